//! Local queries (filled in by the queries work).
