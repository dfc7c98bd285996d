//! Expansion snapshots and hygiene checks (filled in below).
