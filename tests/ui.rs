//! Compile-fail and compile-pass cases for #[genserver]: every misuse gets one precise error.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
