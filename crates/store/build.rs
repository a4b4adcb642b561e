//! Rebuilds the crate when a migration file is added or changed: refinery embeds
//! `migrations/` at compile time, and cargo does not otherwise know the folder is an input.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/postgres");
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
}
