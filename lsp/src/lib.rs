//! The Pol language server. Built out in the language-server issue; see README.md.
