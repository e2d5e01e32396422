pub fn jid(_data: &[u8]) {}
