//! `AdminSetUserPassword`'s own contract on a password, checked before the value is sent: Cognito
//! answers a bare validation error for whitespace, and a policy error for an over-long value,
//! neither of which tells the user what to fix.

use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;

/// `AdminSetUserPassword` accepts a `Password` of 1 to 256 characters matching `[\S]+`.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Checks `password` against the contract. `source_name` says where the value came from; the
/// message never holds the value.
pub fn check_password(source_name: &str, password: &SecretString) -> Result<(), Error> {
    let value = password.expose_secret();
    let refuse = |problem: String, fix: &str| {
        Err(Error::PasswordContract {
            source_name: source_name.to_owned(),
            problem,
            fix: fix.to_owned(),
        })
    };
    let chars = value.chars().count();
    if chars == 0 {
        return refuse("it is empty".into(), "store a password of 1 to 256 characters");
    }
    if chars > MAX_PASSWORD_CHARS {
        return refuse(
            format!(
                "it is {chars} characters long, and AdminSetUserPassword accepts at most {MAX_PASSWORD_CHARS}"
            ),
            "store a password of at most 256 characters",
        );
    }
    // `[\S]` is Java's: these six are its whitespace.
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r');
    let trimmed = value.trim_end_matches(['\n', '\r']);
    if trimmed.len() < value.len() && !trimmed.contains(is_space) {
        return refuse(
            "it ends in a line break, and AdminSetUserPassword accepts no whitespace (a value read \
             from a file keeps the file's last newline)"
                .into(),
            "store it without the line break: `--secret-string \"$(cat pw.txt)\"` (Secrets Manager) \
             or `--value \"$(cat pw.txt)\"` (SSM) drop it, where `file://pw.txt` keeps it",
        );
    }
    if let Some(found) = value.chars().find(|c| is_space(*c)) {
        return refuse(
            format!(
                "it contains whitespace ({}), and AdminSetUserPassword accepts none",
                match found {
                    ' ' => "a space",
                    '\t' => "a tab",
                    '\n' | '\r' => "a line break",
                    _ => "a form feed or vertical tab",
                }
            ),
            "store a password without spaces, tabs or line breaks",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refusal as the log holds it (the answer leaves the facts out: see below).
    fn check(value: &str) -> Result<(), String> {
        check_password(
            "Secrets Manager secret `s`",
            &SecretString::from(value.to_owned()),
        )
        .map_err(|e| e.for_log())
    }

    #[test]
    fn the_answer_states_the_contract_and_no_fact_about_the_value() {
        for value in ["Ends-In-Newline-1!\n", "Two Words-1!", &"L0ng!".repeat(60), ""] {
            let err = check_password(
                "Secrets Manager secret `s`",
                &SecretString::from(value.to_owned()),
            )
            .unwrap_err();
            let answer = err.to_string();
            assert!(
                answer.contains("outside AdminSetUserPassword's contract"),
                "{answer}"
            );
            for fact in ["line break", "a space", "characters long", "empty", "300"] {
                assert!(!answer.contains(fact), "{fact} in {answer}");
            }
            assert!(err.value_facts().is_some());
        }
    }

    #[test]
    fn a_value_within_the_contract_passes() {
        assert!(check("Str0ng!Pass").is_ok());
        assert!(check(&"é".repeat(256)).is_ok(), "256 characters, not bytes");
    }

    #[test]
    fn a_trailing_line_break_is_named_with_its_fix_and_without_the_value() {
        for value in ["Str0ng!Pass\n", "Str0ng!Pass\r\n"] {
            let message = check(value).unwrap_err();
            assert!(
                message.starts_with("the password from Secrets Manager secret `s` cannot be sent"),
                "{message}"
            );
            assert!(message.contains("ends in a line break"), "{message}");
            assert!(message.contains("$(cat pw.txt)"), "{message}");
            assert!(!message.contains("Str0ng"), "{message}");
        }
    }

    #[test]
    fn whitespace_inside_is_named() {
        let message = check("Str0ng Pass").unwrap_err();
        assert!(message.contains("contains whitespace (a space)"), "{message}");
        assert!(check("a\tb").unwrap_err().contains("(a tab)"));
        assert!(check("a\nb\n").unwrap_err().contains("(a line break)"));
        assert!(!message.contains("Str0ng"));
    }

    #[test]
    fn length_is_named_with_the_limit() {
        let message = check(&"x".repeat(257)).unwrap_err();
        assert!(message.contains("it is 257 characters long"), "{message}");
        assert!(message.contains("at most 256"), "{message}");
        assert!(check("").unwrap_err().contains("it is empty"));
    }
}
