//! On a bad attribute: the error, and the function unchanged, so that one
//! mistake gives one error and the rest of the crate still type-checks.

use proc_macro2::TokenStream;

pub(crate) fn expand(error: syn::Error, original: TokenStream) -> TokenStream {
    let mut tokens = error.to_compile_error();
    tokens.extend(original);
    tokens
}
