//! Domain events and alert state (filled in by the events work).
