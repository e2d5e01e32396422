#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| xmpp_proto::fuzzing::s2s(data));
