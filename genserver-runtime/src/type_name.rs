//! How the runtime names a server's type in spans, `Debug` output and error messages.

/// `my_crate::server::Cache<alloc::string::String>` → `Cache<String>`: every path in the
/// type name keeps only its last segment, the type parameters' paths included.
pub(crate) fn short_type_name<S>() -> String {
    let full = std::any::type_name::<S>();
    let mut short = String::with_capacity(full.len());
    let mut rest = full;
    while !rest.is_empty() {
        let path_end =
            rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
        let (path, after) = rest.split_at(path_end);
        short.push_str(path.rsplit("::").next().unwrap_or(path));
        // The delimiter after the path (`<`, `>`, `,`, a space, ...) is kept as it is.
        let mut after = after.chars();
        if let Some(delimiter) = after.next() {
            short.push(delimiter);
        }
        rest = after.as_str();
    }
    short
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    mod server {
        pub(super) struct Cache<K, V>(K, V);
    }

    #[test]
    fn short_type_names_drop_every_module_path() {
        assert_eq!(short_type_name::<u32>(), "u32");
        assert_eq!(
            short_type_name::<server::Cache<String, (u8, Vec<String>)>>(),
            "Cache<String, (u8, Vec<String>)>"
        );
        assert_eq!(short_type_name::<server::Cache<&'static str, [u8; 4]>>(), "Cache<&str, [u8; 4]>");
    }
}
