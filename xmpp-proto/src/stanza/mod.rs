//! Typed stanzas.
