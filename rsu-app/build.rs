//! Compiles the Slint UI under `ui/` into Rust.

fn main() {
    slint_build::compile("ui/main.slint").expect("the Slint UI under ui/ must compile");
}
