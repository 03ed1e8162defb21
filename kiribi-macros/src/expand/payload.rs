//! The payload struct and its serde impls.
//!
//! `Serialize` and `Deserialize` are what serde's derive would give, but written so
//! that they exist whatever the fields' types: each field goes through a kiribi helper
//! whose bound carries kiribi's message, called at the field's type. A type that is not
//! serde is then reported once per missing trait, on that type, instead of once by a
//! check and again at every place the derive's code uses the field.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use super::{payload, respan, serde_crate};
use crate::parse::JobDef;

/// The struct, then its serde impls (none of its own for a unit struct, which derives
/// them: it has no field to report on).
pub(super) fn items(def: &JobDef) -> Vec<TokenStream> {
    if payload(def).next().is_none() {
        vec![payload_struct(def)]
    } else {
        vec![payload_struct(def), serialize(def), deserialize(def)]
    }
}

/// `pub struct Resize { pub path: String, pub width: u32 }`, or a unit struct.
fn payload_struct(def: &JobDef) -> TokenStream {
    let JobDef {
        crate_path: k,
        vis,
        fn_ident,
        struct_ident,
        ..
    } = def;
    let fn_name = fn_ident.to_string();
    let doc =
        format!("Arguments of the [`{fn_name}`] job; enqueue with [`{struct_ident}::enqueue`].");
    let fields: Vec<TokenStream> = payload(def)
        .map(|(ident, ty)| {
            let doc = format!("The `{ident}` argument of [`{fn_name}`].");
            // The derives report a field's missing trait at the field's first token:
            // make that the user's type rather than the attribute.
            quote_spanned! {ty.span()=>
                #[doc = #doc]
                #vis #ident: #ty
            }
        })
        .collect();
    if fields.is_empty() {
        let serde_crate = serde_crate(k);
        quote! {
            #[doc = #doc]
            #[derive(
                #k::__private::serde::Serialize,
                #k::__private::serde::Deserialize,
                ::core::fmt::Debug,
                ::core::clone::Clone,
            )]
            #[serde(crate = #serde_crate)]
            #vis struct #struct_ident;
        }
    } else {
        quote! {
            #[doc = #doc]
            #[derive(::core::fmt::Debug, ::core::clone::Clone)]
            #vis struct #struct_ident {
                #(#fields,)*
            }
        }
    }
}

/// A struct of the fields in order, as serde's derive writes it; each field through
/// `serialize_argument`, at its type.
fn serialize(def: &JobDef) -> TokenStream {
    let JobDef {
        crate_path: k,
        struct_ident,
        ..
    } = def;
    let name = struct_ident.unraw().to_string();
    let serializer = Ident::new("__kiribi_serializer", Span::mixed_site());
    let fields = Ident::new("__kiribi_fields", Span::mixed_site());
    let len = payload(def).count();
    let writes = payload(def).map(|(ident, ty)| {
        let key = ident.unraw().to_string();
        let span = ty.span();
        let k = respan(quote!(#k), span);
        let call = quote_spanned! {span=> #k::__private::serialize_argument::<_, #ty> };
        let value = quote_spanned! {span=> &self.#ident };
        quote! { #call(&mut #fields, #key, #value)?; }
    });
    quote! {
        impl #k::__private::serde::Serialize for #struct_ident {
            fn serialize<__S>(
                &self,
                #serializer: __S,
            ) -> ::core::result::Result<__S::Ok, __S::Error>
            where
                __S: #k::__private::serde::Serializer,
            {
                let mut #fields = #k::__private::serde::Serializer::serialize_struct(
                    #serializer,
                    #name,
                    #len,
                )?;
                #(#writes)*
                #k::__private::serde::ser::SerializeStruct::end(#fields)
            }
        }
    }
}

/// serde's derive on a private struct of the same name (in messages too) and field
/// names whose fields
/// are wrappers: each wrapper's impl reads its value through `deserialize_argument`,
/// at the field's type. A wrapper's impl is called for a missing field too, so an
/// `Option` field that is absent is `None`, as with the derive on the struct itself.
fn deserialize(def: &JobDef) -> TokenStream {
    let JobDef {
        crate_path: k,
        struct_ident,
        ..
    } = def;
    let serde_crate = serde_crate(k);
    let name = struct_ident.unraw().to_string();
    let expecting = format!("struct {name}");
    let deserializer = Ident::new("__kiribi_deserializer", Span::mixed_site());
    let mut idents = Vec::new();
    let mut wrappers = Vec::new();
    let mut locals = Vec::new();
    let mut wrapper_items = Vec::new();
    for (index, (ident, ty)) in payload(def).enumerate() {
        let wrapper = format_ident!("__KiribiArgument{index}");
        let span = ty.span();
        let k_at = respan(quote!(#k), span);
        let call = quote_spanned! {span=> #k_at::__private::deserialize_argument::<#ty, _> };
        wrapper_items.push(quote! {
            struct #wrapper(#ty);

            impl<'de> #k::__private::serde::Deserialize<'de> for #wrapper {
                fn deserialize<__D>(
                    #deserializer: __D,
                ) -> ::core::result::Result<Self, __D::Error>
                where
                    __D: #k::__private::serde::Deserializer<'de>,
                {
                    ::core::result::Result::map(#call(#deserializer), #wrapper)
                }
            }
        });
        idents.push(ident);
        wrappers.push(wrapper);
        locals.push(Ident::new(
            &format!("__kiribi_field{index}"),
            Span::mixed_site(),
        ));
    }
    quote! {
        const _: () = {
            #(#wrapper_items)*

            #[derive(#k::__private::serde::Deserialize)]
            #[serde(crate = #serde_crate, rename = #name, expecting = #expecting)]
            struct __KiribiArguments {
                #(#idents: #wrappers,)*
            }

            impl<'de> #k::__private::serde::Deserialize<'de> for #struct_ident {
                fn deserialize<__D>(
                    #deserializer: __D,
                ) -> ::core::result::Result<Self, __D::Error>
                where
                    __D: #k::__private::serde::Deserializer<'de>,
                {
                    let __KiribiArguments { #(#idents: #locals,)* } =
                        <__KiribiArguments as #k::__private::serde::Deserialize<'de>>::deserialize(
                            #deserializer,
                        )?;
                    ::core::result::Result::Ok(Self { #(#idents: #locals.0,)* })
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(item: TokenStream) -> JobDef {
        let item: syn::ItemFn = syn::parse2(item).expect("a fn");
        crate::parse::parse(TokenStream::new(), &item).expect("valid")
    }

    fn resize() -> JobDef {
        def(quote! {
            pub async fn resize(ctx: JobContext, path: String, mut width: u32, r#type: u8)
                -> anyhow::Result<u64> { Ok(1) }
        })
    }

    #[test]
    fn struct_has_the_payload_fields_in_order_without_mut() {
        let out = payload_struct(&resize()).to_string();
        let want = quote! {
            pub struct Resize {
                #[doc = "The `path` argument of [`resize`]."]
                pub path: String,
                #[doc = "The `width` argument of [`resize`]."]
                pub width: u32,
                #[doc = "The `r#type` argument of [`resize`]."]
                pub r#type: u8,
            }
        };
        assert!(out.contains(&want.to_string()), "{out}");
        assert!(!out.contains("serde"), "{out}");
    }

    #[test]
    fn fn_without_payload_gets_a_unit_struct_deriving_serde() {
        let def = def(quote! { async fn ping(ctx: JobContext) -> Result<(), String> { Ok(()) } });
        let items = items(&def);
        assert_eq!(items.len(), 1);
        let out = items[0].to_string();
        assert!(out.contains("struct Ping ;"), "{out}");
        assert!(
            out.contains(":: kiribi :: __private :: serde :: Deserialize"),
            "{out}"
        );
    }

    #[test]
    fn serialize_writes_each_field_through_the_helper_by_its_unraw_name() {
        let out = serialize(&resize()).to_string();
        assert!(
            out.contains("serialize_struct (__kiribi_serializer , \"Resize\" , 3usize ,)"),
            "{out}"
        );
        for (key, field, ty) in [
            ("path", "path", "String"),
            ("width", "width", "u32"),
            ("type", "r#type", "u8"),
        ] {
            let call = format!(
                ":: kiribi :: __private :: serialize_argument :: < _ , {ty} > (& mut __kiribi_fields , \"{key}\" , & self . {field}) ?"
            );
            assert!(out.contains(&call), "{call} in {out}");
        }
    }

    #[test]
    fn deserialize_reads_a_struct_of_wrappers_named_like_the_payload() {
        let out = deserialize(&resize()).to_string();
        assert!(out.contains("struct __KiribiArgument1 (u32) ;"), "{out}");
        assert!(out.contains("rename = \"Resize\""), "{out}");
        assert!(
            out.contains(
                "struct __KiribiArguments { path : __KiribiArgument0 , width : __KiribiArgument1 , r#type : __KiribiArgument2 , }"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                ":: kiribi :: __private :: deserialize_argument :: < u32 , _ > (__kiribi_deserializer)"
            ),
            "{out}"
        );
    }
}
