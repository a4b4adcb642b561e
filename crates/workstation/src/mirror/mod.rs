//! The mirror: shared store → local store (filled in by the mirror work).
