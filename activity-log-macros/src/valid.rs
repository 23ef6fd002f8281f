//! Checks what the parsed options mean against the function they annotate,
//! and turns them into a [`Plan`] for `expand.rs`.

use crate::attr::{Args, Opt};
use crate::scope::{Mentions, Params};
use proc_macro2::Span;
use syn::{Expr, Ident, ItemFn, LitStr};

/// When an expression is evaluated.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// Before the body runs (it uses parameters only).
    Before,
    /// After a successful call, with `ret` bound to the returned value.
    AfterOk,
}

/// A user expression and when to evaluate it.
pub(crate) struct Value {
    pub expr: Expr,
    pub when: When,
}

/// Which outcomes are logged.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum On {
    Both,
    Success,
    Failure,
}

/// The description, with the parameters its `{placeholders}` name.
pub(crate) struct Description {
    pub text: LitStr,
    pub args: Vec<Ident>,
}

/// Everything `expand.rs` needs, checked.
pub(crate) struct Plan {
    pub ty: LitStr,
    pub target: Option<LitStr>,
    pub id: Option<Value>,
    pub name: Option<Value>,
    pub description: Option<Description>,
    pub metadata: Vec<(LitStr, Value)>,
    /// The variant of `activity_log::Severity`.
    pub severity: Option<Ident>,
    pub actor: Option<Value>,
    pub tenant: Option<Value>,
    pub logger: Option<Expr>,
    /// The caller's transaction to write the activity in (`tx = ..`).
    pub tx: Option<Expr>,
    pub on: On,
}

impl Plan {
    /// Whether any expression needs `ret`.
    pub fn uses_ret(&self) -> bool {
        let after = |v: &Option<Value>| v.as_ref().is_some_and(|v| v.when == When::AfterOk);
        after(&self.id)
            || after(&self.name)
            || after(&self.actor)
            || after(&self.tenant)
            || self.metadata.iter().any(|(_, v)| v.when == When::AfterOk)
    }
}

pub(crate) fn check(args: Args, func: &ItemFn) -> syn::Result<Plan> {
    if let Some(constness) = &func.sig.constness {
        return Err(syn::Error::new(
            constness.span,
            "#[log_activity] cannot be used on a `const fn`: logging happens at run time; remove `const` or log by \
             hand where the function is called",
        ));
    }
    let params = Params::of(&func.sig);
    let fn_name = &func.sig.ident;
    let cx = Context { params: &params, fn_name };

    let Some(ty) = args.ty else {
        return Err(syn::Error::new(
            Span::call_site(),
            "missing option `type`: every activity needs a type, e.g. #[log_activity(type = \"call_created\")]",
        ));
    };
    let ty = ty.value;
    if ty.value().trim().is_empty() {
        return Err(syn::Error::new(ty.span(), "`type` must not be empty, e.g. `type = \"call_created\"`"));
    }
    if let Some(target) = &args.target {
        if target.value.value().trim().is_empty() {
            return Err(syn::Error::new(target.value.span(), "`target` must not be empty, e.g. `target = \"call\"`"));
        }
    }
    for (opt, what) in [(&args.id, "id"), (&args.name, "name")] {
        if let (Some(opt), None) = (opt, &args.target) {
            return Err(syn::Error::new(
                opt.key,
                format!("`{what}` needs `target`: say what kind of resource this is, e.g. `target = \"call\", {what} = ...`"),
            ));
        }
    }

    let on = match &args.on {
        None => On::Both,
        Some(Opt { value, .. }) => match value.value().as_str() {
            "success" => On::Success,
            "failure" => On::Failure,
            other => {
                return Err(syn::Error::new(
                    value.span(),
                    format!(
                        "unknown value `{other}` for `on`; expected \"success\" or \"failure\" (omit `on` to log both)"
                    ),
                ))
            }
        },
    };
    let severity = match &args.severity {
        None => None,
        Some(Opt { value, .. }) => {
            let variant = match value.value().as_str() {
                "info" => "Info",
                "warning" => "Warning",
                "error" => "Error",
                other => {
                    return Err(syn::Error::new(
                        value.span(),
                        format!("unknown severity `{other}`; expected \"info\", \"warning\" or \"error\""),
                    ))
                }
            };
            Some(Ident::new(variant, value.span()))
        }
    };

    let id = args.id.map(|o| cx.value(o.value, "id")).transpose()?;
    let name = args.name.map(|o| cx.value(o.value, "name")).transpose()?;
    let actor = args.actor.map(|o| cx.value(o.value, "actor")).transpose()?;
    let tenant = args.tenant.map(|o| cx.value(o.value, "tenant")).transpose()?;
    let mut metadata: Vec<(LitStr, Value)> = Vec::new();
    for entry in args.metadata.map(|o| o.value).unwrap_or_default() {
        if metadata.iter().any(|(k, _)| k.value() == entry.key.value()) {
            return Err(syn::Error::new(entry.key.span(), format!("duplicate metadata key `{}`", entry.key.value())));
        }
        let value = cx.value(entry.value, "metadata")?;
        metadata.push((entry.key, value));
    }
    let logger = match args.logger {
        None => None,
        Some(o) => {
            let value = cx.value(o.value, "logger")?;
            if value.when == When::AfterOk {
                let mentions = Mentions::of(&value.expr);
                let at = mentions.ret().map_or(o.key, Ident::span);
                return Err(syn::Error::new(at, "`logger` is chosen before the body runs and cannot use `ret`"));
            }
            Some(value.expr)
        }
    };
    let tx = match args.tx {
        None => None,
        Some(o) => {
            if func.sig.asyncness.is_none() {
                return Err(syn::Error::new(
                    o.key,
                    "`tx` needs an `async fn`: the activity is written in the transaction, which awaits",
                ));
            }
            let value = cx.value(o.value, "tx")?;
            if value.when == When::AfterOk {
                let mentions = Mentions::of(&value.expr);
                let at = mentions.ret().map_or(o.key, Ident::span);
                return Err(syn::Error::new(at, "`tx` names a parameter (the transaction) and cannot use `ret`"));
            }
            Some(value.expr)
        }
    };
    let description = args.description.map(|o| cx.description(o.value)).transpose()?;

    let plan = Plan {
        ty,
        target: args.target.map(|o| o.value),
        id,
        name,
        description,
        metadata,
        severity,
        actor,
        tenant,
        logger,
        tx,
        on,
    };
    if let (On::Failure, Some(on)) = (on, &args.on) {
        if plan.uses_ret() {
            return Err(syn::Error::new(
                on.key,
                "`on = \"failure\"` contradicts using `ret`: `ret` is the value of a successful call, and only failed \
                 calls are logged; drop `on` or the options that use `ret`",
            ));
        }
    }
    Ok(plan)
}

struct Context<'a> {
    params: &'a Params,
    fn_name: &'a Ident,
}

impl Context<'_> {
    /// Checks that `expr` only uses parameters (or `ret`) and says when it
    /// can be evaluated.
    fn value(&self, expr: Expr, option: &str) -> syn::Result<Value> {
        let mentions = Mentions::of(&expr);
        if let (Some(token), false) = (&mentions.self_token, self.params.has_self) {
            return Err(syn::Error::new(
                token.span(),
                format!("`{option}` uses `self`, but `{}` has no `self` parameter", self.fn_name),
            ));
        }
        let mut when = When::Before;
        for local in &mentions.locals {
            let name = local.to_string();
            if name == "ret" {
                if let Some(param) = &self.params.ret_param {
                    return Err(syn::Error::new(
                        param.span(),
                        "this parameter is named `ret`, which #[log_activity] options use for the returned value; \
                         rename the parameter",
                    ));
                }
                when = When::AfterOk;
            } else if !self.params.names.contains(&name) {
                return Err(syn::Error::new(
                    local.span(),
                    format!(
                        "`{name}` is not a parameter of `{}`; `{option}` is evaluated before the body runs, so it can \
                         use the parameters{}, or `ret` for the value the function returns",
                        self.fn_name,
                        if self.params.has_self { " and `self`" } else { "" },
                    ),
                ));
            }
        }
        Ok(Value { expr, when })
    }

    /// Finds the `{name}` placeholders and checks that each names a parameter.
    fn description(&self, text: LitStr) -> syn::Result<Description> {
        let value = text.value();
        let mut args: Vec<Ident> = Vec::new();
        let mut chars = value.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                }
                '}' => {
                    return Err(syn::Error::new(text.span(), "unmatched `}` in description; write `}}` for a brace"))
                }
                '{' => {
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => inner.push(c),
                            None => {
                                return Err(syn::Error::new(
                                    text.span(),
                                    "unclosed `{` in description; write `{{` for a brace",
                                ))
                            }
                        }
                    }
                    let name = inner.split(':').next().unwrap_or_default().trim();
                    let is_ident = name.starts_with(|c: char| c.is_alphabetic() || c == '_')
                        && name.chars().all(|c| c.is_alphanumeric() || c == '_');
                    if !is_ident || name == "ret" || !self.params.names.contains(name) {
                        return Err(syn::Error::new(
                            text.span(),
                            format!(
                                "`{{{inner}}}` in description does not name a parameter of `{}`; placeholders can \
                                 only name parameters, e.g. `{{call_id}}` (use `metadata(...)` for other values)",
                                self.fn_name
                            ),
                        ));
                    }
                    if !args.iter().any(|a| a == name) {
                        args.push(Ident::new(name, text.span()));
                    }
                }
                _ => {}
            }
        }
        Ok(Description { text, args })
    }
}
