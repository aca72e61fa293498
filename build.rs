//! Generates the Pol parser from `grammar/pol.lalrpop` into OUT_DIR.
fn main() {
    println!("cargo:rerun-if-changed=grammar/pol.lalrpop");
    lalrpop::Configuration::new()
        .set_in_dir("grammar")
        .set_out_dir(std::env::var("OUT_DIR").expect("OUT_DIR"))
        .process()
        .expect("LALRPOP failed to generate the parser");
}
