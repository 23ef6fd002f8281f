//! Parses the arguments of `#[log_activity(...)]` into [`Args`].
//!
//! Only the *shape* of each option is checked here (a string literal where a
//! literal is expected, an expression elsewhere, no duplicates, no unknown
//! names); what the values mean is checked in `valid.rs`.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{parenthesized, Expr, ExprLit, Ident, Lit, LitStr, Token};

/// Every option, in the order the error message lists them.
pub(crate) const OPTIONS: &[&str] =
    &["type", "target", "id", "name", "description", "metadata", "severity", "actor", "tenant", "logger", "on", "tx"];

/// An option's value with the span of its name (for duplicate and
/// contradiction errors).
pub(crate) struct Opt<T> {
    pub key: Span,
    pub value: T,
}

/// One `key = expr` (or shorthand `key`) inside `metadata(...)`.
pub(crate) struct MetaEntry {
    pub key: LitStr,
    pub value: Expr,
}

/// The parsed arguments, not yet checked for meaning.
#[derive(Default)]
pub(crate) struct Args {
    pub ty: Option<Opt<LitStr>>,
    pub target: Option<Opt<LitStr>>,
    pub id: Option<Opt<Expr>>,
    pub name: Option<Opt<Expr>>,
    pub description: Option<Opt<LitStr>>,
    pub metadata: Option<Opt<Vec<MetaEntry>>>,
    pub severity: Option<Opt<LitStr>>,
    pub actor: Option<Opt<Expr>>,
    pub tenant: Option<Opt<Expr>>,
    pub logger: Option<Opt<Expr>>,
    pub on: Option<Opt<LitStr>>,
    pub tx: Option<Opt<Expr>>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            let key = if input.peek(Token![type]) {
                let token: Token![type] = input.parse()?;
                Ident::new("type", token.span)
            } else {
                input.call(Ident::parse_any).map_err(|e| {
                    syn::Error::new(e.span(), format!("expected an option; valid options are: {}", OPTIONS.join(", ")))
                })?
            };
            let name = key.to_string();
            match name.as_str() {
                "type" => set(&mut args.ty, &key, literal(input, &key, "\"call_created\"")?)?,
                "target" => set(&mut args.target, &key, literal(input, &key, "\"call\"")?)?,
                "description" => set(&mut args.description, &key, literal(input, &key, "\"Call {call_id} deleted\"")?)?,
                "severity" => set(&mut args.severity, &key, literal(input, &key, "\"warning\"")?)?,
                "on" => set(&mut args.on, &key, literal(input, &key, "\"failure\"")?)?,
                "id" => set(&mut args.id, &key, expression(input)?)?,
                "name" => set(&mut args.name, &key, expression(input)?)?,
                "actor" => set(&mut args.actor, &key, expression(input)?)?,
                "tenant" => set(&mut args.tenant, &key, expression(input)?)?,
                "logger" => set(&mut args.logger, &key, expression(input)?)?,
                "tx" => set(&mut args.tx, &key, expression(input)?)?,
                "metadata" => set(&mut args.metadata, &key, metadata(input, &key)?)?,
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown option `{name}`; valid options are: {}", OPTIONS.join(", ")),
                    ))
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}

fn set<T>(slot: &mut Option<Opt<T>>, key: &Ident, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(key.span(), format!("duplicate option `{key}`")));
    }
    *slot = Some(Opt { key: key.span(), value });
    Ok(())
}

fn expression(input: ParseStream<'_>) -> syn::Result<Expr> {
    input.parse::<Token![=]>()?;
    input.parse()
}

/// `= "..."`: anything else (an identifier, a number, an expression) is
/// refused with an example of the expected form.
fn literal(input: ParseStream<'_>, key: &Ident, example: &str) -> syn::Result<LitStr> {
    input.parse::<Token![=]>()?;
    let value: Expr = input.parse()?;
    match value {
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Ok(s),
        other => {
            Err(syn::Error::new_spanned(other, format!("`{key}` expects a string literal, e.g. `{key} = {example}`")))
        }
    }
}

/// `(key = expr, key2, "key three" = expr)`.
fn metadata(input: ParseStream<'_>, key: &Ident) -> syn::Result<Vec<MetaEntry>> {
    if !input.peek(syn::token::Paren) {
        return Err(syn::Error::new(
            key.span(),
            "`metadata` expects a list in parentheses, e.g. `metadata(status = new.status, queue)`",
        ));
    }
    let content;
    parenthesized!(content in input);
    let entries = Punctuated::<MetaEntry, Token![,]>::parse_terminated(&content)?;
    Ok(entries.into_iter().collect())
}

impl Parse for MetaEntry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let (key, shorthand) = if input.peek(LitStr) {
            (input.parse::<LitStr>()?, None)
        } else {
            let ident = input.call(Ident::parse_any)?;
            (LitStr::new(&ident.unraw().to_string(), ident.span()), Some(ident))
        };
        if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            return Ok(MetaEntry { key, value: input.parse()? });
        }
        match shorthand {
            // `metadata(queue)` records the parameter `queue` under its own name.
            Some(ident) => Ok(MetaEntry { key, value: syn::parse_quote!(#ident) }),
            None => Err(syn::Error::new(key.span(), "a quoted metadata key needs a value: `\"key\" = expr`")),
        }
    }
}
