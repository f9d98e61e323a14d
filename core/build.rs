//! Sets `quill_arm_dsp` on ARMv7E-M targets (Cortex-M4/M7), whose DSP extension (SXTB16, SMLAD) the int8 kernel
//! uses; rustc does not expose the `dsp` target feature to `cfg` on stable.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(quill_arm_dsp)");
    println!("cargo::rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv7em") {
        println!("cargo::rustc-cfg=quill_arm_dsp");
    }
}
