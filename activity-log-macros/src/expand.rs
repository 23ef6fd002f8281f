//! Generates the wrapped function from a checked [`Plan`].
//!
//! The user's body runs unchanged inside a `move` closure (sync functions)
//! or an `async move` block (async functions, and the `Box::pin(async move
//! { .. })` that `#[async_trait]` produces), so `return` and `?` end the body
//! and not the wrapper. The wrapper then logs once, in the caller's task, and
//! returns the body's value untouched.
//!
//! Hygiene: every path is absolute (`::activity_log::__macro_support::..`) and
//! every local the wrapper introduces has a mixed-site span, so it can
//! neither hide nor be hidden by the user's names. Only `ret` is visible to
//! the user's option expressions.

use crate::valid::{Plan, Value, When};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{AttrStyle, Block, Expr, ExprAsync, ExprCall, ItemFn, ReturnType, Stmt, Type};

pub(crate) fn expand(plan: &Plan, func: ItemFn) -> TokenStream {
    let ItemFn { attrs, vis, sig, block } = func;
    let (outer, inner): (Vec<_>, Vec<_>) = attrs.into_iter().partition(|a| matches!(a.style, AttrStyle::Outer));

    if sig.asyncness.is_some() && plan.tx.is_some() {
        // The body borrows the transaction for its run (an inner,
        // non-`move` block); then the activity is written in it.
        let ty = declared_return(&sig.output);
        let body = instrument(plan, Some(&ty), |fake| quote!(async { #fake #block }.await));
        return quote!(#(#outer)* #vis #sig { #(#inner)* #body });
    }

    if sig.asyncness.is_some() {
        let ty = declared_return(&sig.output);
        let body = instrument(plan, Some(&ty), |fake| quote!(async move { #fake #block }.await));
        return quote!(#(#outer)* #vis #sig { #(#inner)* #body });
    }

    if let Some((stmts, call, future)) = split_box_pin(&block) {
        // `fn f(..) -> Pin<Box<dyn Future<Output = T> + ..>> { ..; Box::pin(async move { .. }) }`:
        // instrument the future, not the function that builds it.
        let ty = future_output(&sig.output);
        let ExprAsync { attrs: async_attrs, capture, block: future_block, .. } = future;
        let func_path = &call.func;
        let body = instrument(plan, ty.as_ref(), |fake| quote!(async #capture { #fake #future_block }.await));
        return quote! {
            #(#outer)* #vis #sig {
                #(#inner)*
                #(#stmts)*
                #func_path(#(#async_attrs)* async #capture { #body })
            }
        };
    }

    let ty = declared_return(&sig.output);
    let body = instrument(plan, Some(&ty), |fake| {
        quote! {
            (move || { #fake #block })()
        }
    });
    quote!(#(#outer)* #vis #sig { #(#inner)* #body })
}

/// A local of the wrapper, invisible to the user's code.
fn local(name: &str) -> syn::Ident {
    syn::Ident::new(name, Span::mixed_site())
}

/// The statements of the wrapped body. `run` gets the fake return edge to
/// put first in the closure or async block, and returns the expression that
/// runs the user's body.
fn instrument(plan: &Plan, ty: Option<&Type>, run: impl FnOnce(TokenStream) -> TokenStream) -> TokenStream {
    let builder = local("__activity_log_builder");
    let start = local("__activity_log_start");
    let elapsed = local("__activity_log_elapsed");
    let value = local("__activity_log_ret");
    let err = local("__activity_log_err");
    let logger = local("__activity_log_logger");
    let id = local("__activity_log_id");
    let name = local("__activity_log_name");
    let p = quote!(::activity_log::__macro_support);

    // Before the body: everything that uses only parameters.
    let activity_type = &plan.ty;
    let mut before = quote! {
        let #builder = #p::begin(#activity_type);
    };
    if let Some(severity) = &plan.severity {
        before.extend(quote!(let #builder = #builder.severity(::activity_log::Severity::#severity);));
    }
    if let Some(d) = &plan.description {
        let text = &d.text;
        let args = &d.args;
        let description =
            if args.is_empty() { quote!(#text) } else { quote!(::std::format!(#text, #(#args = #args),*)) };
        before.extend(quote!(let #builder = #builder.description(#description);));
    }
    let mut after_ok = TokenStream::new();
    let mut push = |when: When, step: TokenStream| match when {
        When::Before => before.extend(step),
        When::AfterOk => after_ok.extend(step),
    };
    for (key, v) in &plan.metadata {
        let expr = &v.expr;
        push(v.when, quote_spanned!(expr.span()=> let #builder = #p::meta(#builder, #key, &(#expr));));
    }
    if let Some(v) = &plan.actor {
        let expr = &v.expr;
        push(v.when, quote_spanned!(expr.span()=> let #builder = #p::actor(#builder, &(#expr));));
    }
    if let Some(v) = &plan.tenant {
        let expr = &v.expr;
        push(v.when, quote_spanned!(expr.span()=> let #builder = #p::tenant(#builder, &(#expr));));
    }
    // The target's id and name, as text, in each arm.
    let none = quote!(::core::option::Option::None);
    let mut text_of = |local_name: &syn::Ident, v: &Option<Value>| -> (TokenStream, TokenStream) {
        match v {
            None => (none.clone(), none.clone()),
            Some(Value { expr, when: When::Before }) => {
                before.extend(quote_spanned! {expr.span()=>
                    let #local_name = ::core::option::Option::Some(#p::text(&(#expr)));
                });
                (quote!(#local_name), quote!(#local_name))
            }
            Some(Value { expr, when: When::AfterOk }) => {
                (quote_spanned!(expr.span()=> ::core::option::Option::Some(#p::text(&(#expr)))), none.clone())
            }
        }
    };
    let (id_ok, id_err) = text_of(&id, &plan.id);
    let (name_ok, name_err) = text_of(&name, &plan.name);
    let (target_ok, target_err) = match &plan.target {
        Some(kind) => (
            quote!(let #builder = #p::target(#builder, #kind, #id_ok, #name_ok);),
            quote!(let #builder = #p::target(#builder, #kind, #id_err, #name_err);),
        ),
        None => (TokenStream::new(), TokenStream::new()),
    };
    let logger_ref = match &plan.logger {
        Some(expr) => {
            before.extend(quote_spanned!(expr.span()=> let #logger = #p::logger(&(#expr));));
            quote!(::core::option::Option::Some(&#logger))
        }
        None => none.clone(),
    };

    let ret_pat = if plan.uses_ret() { quote!(ret) } else { quote!(_) };
    let some_err = quote!(::core::option::Option::Some(#err));
    let (finish_ok, finish_err) = match &plan.tx {
        None => (
            quote!(#p::finish(#logger_ref, #builder, #elapsed, #none);),
            quote!(#p::finish(#logger_ref, #builder, #elapsed, #some_err);),
        ),
        Some(tx) => (
            quote_spanned!(tx.span()=> #p::finish_in(#logger_ref, &mut *#tx, #builder, #elapsed, #none).await;),
            quote_spanned!(tx.span()=> #p::finish_in(#logger_ref, &mut *#tx, #builder, #elapsed, #some_err).await;),
        ),
    };
    let ok_arm = if plan.on == crate::valid::On::Failure {
        quote!(::core::result::Result::Ok(_) => {})
    } else {
        quote! {
            ::core::result::Result::Ok(#ret_pat) => {
                #after_ok
                #target_ok
                #finish_ok
            }
        }
    };
    let err_arm = if plan.on == crate::valid::On::Success {
        quote!(::core::result::Result::Err(_) => {})
    } else {
        quote! {
            ::core::result::Result::Err(#err) => {
                #target_err
                let #err = (&&&#p::ErrText(#err)).__activity_log_err_text();
                #finish_err
            }
        }
    };

    // A return edge that is never taken, typed as the function's return
    // type: the closure or async block then knows its type before the body
    // is checked, so `?` converts errors and type errors point at the body.
    let fake = ty.map(|ty| {
        quote! {
            #[allow(unreachable_code, clippy::diverging_sub_expression)]
            if false {
                return #p::unreachable_return::<#ty>();
            }
        }
    });
    let annotation = ty.map(|ty| quote!(: #ty));
    let run = run(fake.unwrap_or_default());

    let split = quote! {
        {
            #[allow(unused_imports)]
            use #p::{ErrDebug as _, ErrDisplay as _, ErrOpaque as _, SplitResult as _, SplitValue as _};
            let #elapsed = #start.elapsed();
            match (&&#p::Returned(&#value)).__activity_log_split() {
                #ok_arm
                #err_arm
            }
        }
    };
    if plan.tx.is_some() {
        // Everything after the body runs in the function's own async
        // block, where the transaction is usable again.
        return quote! {
            #before
            let #start = #p::Instant::now();
            async move {
                let #value #annotation = #run;
                #split
                #value
            }
            .await
        };
    }
    quote! {
        #before
        let #start = #p::Instant::now();
        #[allow(clippy::redundant_closure_call)]
        let #value #annotation = #run;
        #split
        #value
    }
}

/// The declared return type with `impl Trait` replaced by `_`, which a
/// `let` or a turbofish accepts.
fn declared_return(output: &ReturnType) -> Type {
    match output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => erase_impl_trait((**ty).clone()),
    }
}

fn erase_impl_trait(mut ty: Type) -> Type {
    struct Erase;
    impl VisitMut for Erase {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(t) = ty {
                *ty = Type::Infer(syn::TypeInfer { underscore_token: syn::Token![_](t.impl_token.span) });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    Erase.visit_type_mut(&mut ty);
    ty
}

/// `T` in a return type like `Pin<Box<dyn Future<Output = T> + Send + 'a>>`.
fn future_output(output: &ReturnType) -> Option<Type> {
    struct Find(Option<Type>);
    impl Visit<'_> for Find {
        fn visit_assoc_type(&mut self, assoc: &syn::AssocType) {
            if self.0.is_none() && assoc.ident == "Output" {
                self.0 = Some(assoc.ty.clone());
            }
        }
    }
    let ReturnType::Type(_, ty) = output else { return None };
    let mut find = Find(None);
    find.visit_type(ty);
    find.0.map(erase_impl_trait)
}

/// Splits a body ending in `Box::pin(async { .. })` into the statements
/// before, the call, and the async block.
fn split_box_pin(block: &Block) -> Option<(&[Stmt], &ExprCall, &ExprAsync)> {
    let (Stmt::Expr(Expr::Call(call), None), stmts) = block.stmts.split_last()? else { return None };
    let Expr::Path(path) = &*call.func else { return None };
    let segments: Vec<String> = path.path.segments.iter().map(|s| s.ident.to_string()).collect();
    if !segments.ends_with(&["Box".to_owned(), "pin".to_owned()]) || call.args.len() != 1 {
        return None;
    }
    match &call.args[0] {
        Expr::Async(future) => Some((stmts, call, future)),
        _ => None,
    }
}
