//! scratch
pub fn normalize_custom_inputs(
    inputs: &serde_json::Value,
) -> Result<serde_json::Value, Vec<String>> {
    Ok(inputs.clone())
}
pub fn validate_injectors(
    _i: &serde_json::Value,
    _x: &serde_json::Value,
) -> Result<(), Vec<String>> {
    Ok(())
}
pub fn inputs_equivalent(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    a == b
}

#[cfg(test)]
mod tests {
    #[test]
    #[allow(deprecated)]
    fn explore() {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let ctx = minijinja::Value::from_iter([("token", minijinja::Value::from("EXAMPLE"))]);
        for src in [
            "{{ token ",
            "{{ token",
            "{{ }}",
            "{% if token %}",
            "{% foo %}",
            "{% endif %}",
            "{{ token | nofilter }}",
            "{{ token is notatest }}",
            "{{ 'abc }}",
            "{{ token + }}",
            "{{ token }",
            "{% if token %}{% endfor %}",
            "{{ token.foo }}",
            "x {{ nope }}",
            "{{ token['foo'] }}",
            "{{ nope.x }}",
            "{{ token.upper() }}",
            "{{ token ~ nope }}",
            "{% if nope %}a{% endif %}",
            "{{ nope is defined }}{{ token.bar }}",
            "{{ token|upper }}{{ 1/0 }}",
            "{{ token[0] }}",
            "{{ foo() }}",
            "{{ range(3) }}",
            "{{ lipsum() }}",
            "{#",
            "{% raw %}",
            "{{ token.x.y }}",
        ] {
            match env.template_from_str(src) {
                Err(e) => println!(
                    "{src:?} COMPILE kind={:?} detail={:?} range={:?} disp={e}",
                    e.kind(),
                    e.detail(),
                    e.range()
                ),
                Ok(t) => {
                    let mut und: Vec<_> = t.undeclared_variables(true).into_iter().collect();
                    und.sort();
                    match t.render(&ctx) {
                        Ok(s) => println!("{src:?} OK {s:?} und={und:?}"),
                        Err(e) => println!(
                            "{src:?} RENDER kind={:?} detail={:?} range={:?} und={und:?} disp={e}",
                            e.kind(),
                            e.detail(),
                            e.range()
                        ),
                    }
                }
            }
        }
    }
}
