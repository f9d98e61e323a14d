//! Link libtorch so that the binary starts without LD_LIBRARY_PATH and sees CUDA.
//!
//! * `-rpath`: the binary finds `libtorch*.so` where torch-sys found them.
//! * `--no-as-needed -ltorch`: `libtorch.so` pulls in `libtorch_cuda.so`; with the default `--as-needed` the linker
//!   drops it (no symbol of ours references it directly) and CUDA is silently never detected.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath={lib}");
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch");
    }
}
