//! Named choices: the small enums a user picks from (selection rule, model, optimizer, ...),
//! each with its name and a line of help, so that the faces show them without the core knowing
//! either face (the CLI turns them into value lists, the window into hover texts).

/// An enum whose values have a name (what a user types, and what `Display` prints) and a line
/// of help.
pub trait Choice: Copy + PartialEq + Sized + 'static {
    /// Every value, in the order they are offered.
    const ALL: &'static [Self];
    /// What this kind of value is called in messages ("selection", "model").
    const WHAT: &'static str;

    fn name(self) -> &'static str;

    /// One line (or a few sentences) saying what the value does; empty when the name says it.
    fn help(self) -> &'static str;

    /// The value named `s` (exact, as a user types it on the command line).
    fn from_name(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.name() == s)
    }
}

/// Implements [`Choice`], `Display` (the name) and `FromStr` (by name, with a message listing
/// the names) for a field-less enum: `choice!(Kind, "kind", { A => "a", "help of a"; ... });`.
#[macro_export]
macro_rules! choice {
    ($ty:ident, $what:literal, { $($var:ident => $name:literal, $help:literal;)+ }) => {
        impl $crate::choice::Choice for $ty {
            const ALL: &'static [Self] = &[$($ty::$var),+];
            const WHAT: &'static str = $what;

            fn name(self) -> &'static str {
                match self {
                    $($ty::$var => $name,)+
                }
            }

            fn help(self) -> &'static str {
                match self {
                    $($ty::$var => $help,)+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::choice::Choice::name(*self))
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;

            fn from_str(s: &str) -> std::result::Result<Self, String> {
                <$ty as $crate::choice::Choice>::from_name(s).ok_or_else(|| {
                    $crate::choice::unknown::<$ty>(s)
                })
            }
        }
    };
}

/// "unknown model 'x' (one of: cnn, mlp, vae)".
pub fn unknown<C: Choice>(s: &str) -> String {
    let names: Vec<&str> = C::ALL.iter().map(|c| c.name()).collect();
    format!("unknown {} '{s}' (one of: {})", C::WHAT, names.join(", "))
}
