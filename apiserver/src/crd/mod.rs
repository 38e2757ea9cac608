//! CustomResourceDefinitions (apiextensions.k8s.io/v1): the definitions themselves, and the
//! behaviour of the custom resources they serve — structural-schema pruning, defaulting and
//! validation, CEL rules, printer columns.

pub mod cel;
pub mod columns;
pub mod custom;
pub mod definition;
pub mod registrar;
pub mod structural;
