//! What an option's expression may refer to: the function's parameters,
//! `self`, and `ret` (the returned value).

use std::collections::BTreeSet;
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Expr, FnArg, Ident, Pat, Signature, Token};

/// The names bound by a function's parameters.
pub(crate) struct Params {
    pub names: BTreeSet<String>,
    pub has_self: bool,
    /// The parameter named `ret`, if any (it would hide the returned value).
    pub ret_param: Option<Ident>,
}

impl Params {
    pub fn of(sig: &Signature) -> Self {
        let mut collect = Bindings::default();
        let mut has_self = false;
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(_) => has_self = true,
                FnArg::Typed(arg) => collect.visit_pat(&arg.pat),
            }
        }
        let ret_param = collect.idents.iter().find(|i| *i == "ret").cloned();
        let names = collect.idents.iter().map(ToString::to_string).collect();
        Params { names, has_self, ret_param }
    }
}

/// Identifiers bound by a pattern.
#[derive(Default)]
struct Bindings {
    idents: Vec<Ident>,
}

impl Visit<'_> for Bindings {
    fn visit_pat_ident(&mut self, pat: &syn::PatIdent) {
        self.idents.push(pat.ident.clone());
        visit::visit_pat_ident(self, pat);
    }
}

/// The free variables an expression mentions.
#[derive(Default)]
pub(crate) struct Mentions {
    /// Lower-case single-segment paths: locals (upper-case ones are
    /// constants, statics or unit structs and are left to the compiler).
    pub locals: Vec<Ident>,
    /// Names bound inside the expression (closure parameters, `let`).
    bound: BTreeSet<String>,
    /// The first `self`.
    pub self_token: Option<Ident>,
}

impl Mentions {
    pub fn of(expr: &Expr) -> Self {
        let mut m = Mentions::default();
        m.visit_expr(expr);
        let bound = std::mem::take(&mut m.bound);
        m.locals.retain(|i| !bound.contains(&i.to_string()));
        m
    }

    /// The first mention of `ret`, the returned value.
    pub fn ret(&self) -> Option<&Ident> {
        self.locals.iter().find(|i| *i == "ret")
    }
}

impl Visit<'_> for Mentions {
    fn visit_expr_path(&mut self, expr: &syn::ExprPath) {
        let path = &expr.path;
        if expr.qself.is_none() && path.leading_colon.is_none() && path.segments.len() == 1 {
            let segment = &path.segments[0];
            let name = segment.ident.to_string();
            if name == "self" {
                self.self_token.get_or_insert_with(|| segment.ident.clone());
            } else if segment.arguments.is_none() && name.starts_with(|c: char| c.is_lowercase() || c == '_') {
                self.locals.push(segment.ident.clone());
            }
        }
        visit::visit_expr_path(self, expr);
    }

    fn visit_expr_call(&mut self, call: &syn::ExprCall) {
        // `now()` names a function, not a local.
        match &*call.func {
            Expr::Path(_) => {}
            other => self.visit_expr(other),
        }
        for arg in &call.args {
            self.visit_expr(arg);
        }
    }

    /// Closure parameters, `let` and `match` patterns bind names.
    fn visit_pat(&mut self, pat: &Pat) {
        let mut b = Bindings::default();
        b.visit_pat(pat);
        self.bound.extend(b.idents.iter().map(ToString::to_string));
    }

    fn visit_macro(&mut self, mac: &syn::Macro) {
        // `format!("{}", x)`, `vec![a, b]`: look at the arguments when they
        // parse as expressions; otherwise leave the macro to the compiler.
        if let Ok(args) = mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
            for arg in &args {
                self.visit_expr(arg);
            }
        }
    }
}
