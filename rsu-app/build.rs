//! Compiles the Slint UI under `ui/` into Rust.
//!
//! Element debug info is kept: Slint's element search (used by the UI tests to find controls by
//! their accessible labels) needs it, and it costs a few kilobytes.

fn main() {
    let config = slint_build::CompilerConfiguration::new().with_debug_info(true);
    slint_build::compile_with_config("ui/main.slint", config)
        .expect("the Slint UI under ui/ must compile");
}
