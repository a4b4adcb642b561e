//! Rebuild when a migration file is added or changed, so `embed_migrations!` picks it up.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/postgres");
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
}
