//! The standard library: Pol modules shipped inside the binary and brought into a bundle by
//! `import "std/NAME"`.

/// `(module name, file text)` of every standard module.
pub const MODULES: &[(&str, &str)] = &[
    ("hris", include_str!("../stdlib/hris.pol")),
    ("saas", include_str!("../stdlib/saas.pol")),
];

/// The text of `std/NAME`.
pub fn module(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The path under which a standard module is shown in diagnostics and opened by editors.
pub fn display_path(name: &str) -> String {
    format!("<std>/{name}.pol")
}
