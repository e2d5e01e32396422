//! `--component NAME:SECRET` of the example servers. (Shared by the
//! examples of both transports; not an example of its own.)

/// The component domain and secret of one `--component` value: `NAME`
/// is a subdomain of `domain` (`echo` is `echo.DOMAIN`) or, with a dot
/// in it, a whole domain.
pub(crate) fn parse(domain: &str, spec: &str) -> Result<(String, String), String> {
    let (name, secret) = spec
        .split_once(':')
        .filter(|(name, secret)| !name.is_empty() && !secret.is_empty())
        .ok_or(format!("--component {spec:?}: expected NAME:SECRET"))?;
    let component = if name.contains('.') {
        name.to_owned()
    } else {
        format!("{name}.{domain}")
    };
    Ok((component, secret.to_owned()))
}
