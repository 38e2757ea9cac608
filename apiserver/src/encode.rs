//! Response representations chosen by the `Accept` header: the object itself, a `Table`
//! (server-side printing, columns from [`crate::printers`]), or `PartialObjectMetadata`.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{json, Value};

use crate::cacher::CachedObject;
use crate::params::Query;
use crate::printers;
use crate::resource::ResourceInfo;
use crate::status::{ApiError, ApiResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Json,
    Yaml,
    Table(IncludeObject),
    /// `PartialObjectMetadata` / `PartialObjectMetadataList` (meta.k8s.io/v1).
    Metadata,
}

/// Pick the first representation in `Accept` this server can produce.
pub fn negotiate(accept: Option<&str>, q: &Query) -> ApiResult<Output> {
    let accept = accept.unwrap_or("application/json");
    for media in accept.split(',') {
        let mut parts = media.split(';').map(str::trim);
        let mime = parts.next().unwrap_or_default();
        let params: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
        let param = |k: &str| params.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        let json_like = matches!(mime, "application/json" | "*/*" | "application/*" | "");
        if json_like {
            match param("as") {
                None => return Ok(Output::Json),
                Some("Table") if param("g") == Some("meta.k8s.io") => {
                    let include = match q.get("includeObject") {
                        Some("None") => IncludeObject::None,
                        Some("Object") => IncludeObject::Object,
                        _ => IncludeObject::Metadata,
                    };
                    return Ok(Output::Table(include));
                }
                Some("PartialObjectMetadata") | Some("PartialObjectMetadataList")
                    if param("g") == Some("meta.k8s.io") && param("v") == Some("v1") =>
                {
                    return Ok(Output::Metadata)
                }
                _ => continue,
            }
        }
        if mime == "application/yaml" && param("as").is_none() {
            return Ok(Output::Yaml);
        }
    }
    Err(ApiError::not_acceptable(accept))
}

pub fn content_type(out: Output) -> &'static str {
    match out {
        Output::Yaml => "application/yaml",
        _ => "application/json",
    }
}

/// A cached object's `metadata`, cut out of its JSON without building the object: metadata
/// watches and lists (the garbage collector's) see every write of every resource.
fn raw_metadata(json: &[u8]) -> Option<&serde_json::value::RawValue> {
    #[derive(serde::Deserialize)]
    struct MetadataOnly<'a> {
        #[serde(borrow)]
        metadata: &'a serde_json::value::RawValue,
    }
    serde_json::from_slice::<MetadataOnly<'_>>(json)
        .ok()
        .map(|m| m.metadata)
}

/// `PartialObjectMetadata` JSON of a cached object.
fn partial_metadata_bytes(o: &CachedObject, out: &mut BytesMut) {
    match raw_metadata(&o.json) {
        Some(raw) => {
            out.put_slice(
                br#"{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":"#,
            );
            out.put_slice(raw.get().as_bytes());
            out.put_u8(b'}');
        }
        None => out.put_slice(partial_metadata(&o.value()).to_string().as_bytes()),
    }
}

fn partial_metadata(v: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": v["metadata"],
    })
}

/// A Table of objects of one kind: the columns and cells of that kind's printer (upstream's
/// default Name / Created At for kinds without one). Column definitions go only in the
/// first frame of a watch.
pub fn table(
    printer: &dyn printers::Tabular,
    objects: &[Value],
    list_meta: Value,
    include: IncludeObject,
    with_columns: bool,
) -> Value {
    let rows: Vec<Value> = printer
        .rows(objects)
        .into_iter()
        .map(|(i, mut row)| {
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => row["object"] = partial_metadata(&objects[i]),
                IncludeObject::Object => row["object"] = objects[i].clone(),
            }
            row
        })
        .collect();
    let mut t = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "rows": rows,
    });
    if with_columns {
        t["columnDefinitions"] = printer.column_definitions();
    }
    t
}

pub fn list_meta(revision: u64, continue_token: Option<&str>, remaining: Option<u64>) -> Value {
    let mut m = json!({"resourceVersion": revision.to_string()});
    if let Some(c) = continue_token {
        m["continue"] = json!(c);
    }
    if let Some(r) = remaining {
        m["remainingItemCount"] = json!(r);
    }
    m
}

/// How objects of `info` print: their CRD's columns, or their kind's printer (found by
/// the object's own type when the resource is not known).
fn printer_for<'a>(info: Option<&'a ResourceInfo>, v: &Value) -> &'a dyn printers::Tabular {
    match info {
        Some(i) => match &i.custom {
            Some(c) => c.as_ref(),
            None => printers::for_kind(&i.group, &i.kind),
        },
        None => printers::for_object(v),
    }
}

/// Encode one object in the chosen representation.
pub fn object(out: Output, info: Option<&ResourceInfo>, v: &Value) -> Bytes {
    match out {
        Output::Json => Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
        Output::Yaml => Bytes::from(serde_yaml::to_string(v).unwrap_or_default()),
        Output::Metadata => Bytes::from(partial_metadata(v).to_string()),
        Output::Table(include) => {
            let meta = json!({"resourceVersion": v["metadata"]["resourceVersion"]});
            let printer = printer_for(info, v);
            Bytes::from(table(printer, std::slice::from_ref(v), meta, include, true).to_string())
        }
    }
}

/// Encode a list. The JSON form splices each cached object's bytes without re-serializing.
pub fn list(out: Output, info: &ResourceInfo, items: &[Arc<CachedObject>], meta: Value) -> Bytes {
    match out {
        Output::Json => {
            let head =
                json!({"kind": info.list_kind, "apiVersion": info.api_version(), "metadata": meta})
                    .to_string();
            let size = head.len() + items.iter().map(|o| o.json.len() + 1).sum::<usize>() + 16;
            let mut b = BytesMut::with_capacity(size);
            // `{"kind":…,"metadata":{…}` + `,"items":[` + objects + `]}`
            b.put_slice(&head.as_bytes()[..head.len() - 1]);
            b.put_slice(b",\"items\":[");
            for (i, o) in items.iter().enumerate() {
                if i > 0 {
                    b.put_u8(b',');
                }
                b.put_slice(&o.json);
            }
            b.put_slice(b"]}");
            b.freeze()
        }
        Output::Yaml => {
            let v = json!({"kind": info.list_kind, "apiVersion": info.api_version(), "metadata": meta,
                "items": items.iter().map(|o| o.value()).collect::<Vec<_>>()});
            Bytes::from(serde_yaml::to_string(&v).unwrap_or_default())
        }
        Output::Metadata => {
            let head = json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                "metadata": meta})
            .to_string();
            let mut b = BytesMut::with_capacity(head.len() + items.len() * 512 + 16);
            b.put_slice(&head.as_bytes()[..head.len() - 1]);
            b.put_slice(b",\"items\":[");
            for (i, o) in items.iter().enumerate() {
                if i > 0 {
                    b.put_u8(b',');
                }
                partial_metadata_bytes(o, &mut b);
            }
            b.put_slice(b"]}");
            b.freeze()
        }
        Output::Table(include) => {
            let values: Vec<Value> = items.iter().map(|o| o.value()).collect();
            let printer = printer_for(Some(info), &Value::Null);
            Bytes::from(table(printer, &values, meta, include, true).to_string())
        }
    }
}

/// One watch event frame: `{"type":…,"object":…}\n`.
pub fn watch_event(
    out: Output,
    info: Option<&ResourceInfo>,
    kind: &str,
    obj: &CachedObject,
    first: bool,
) -> Bytes {
    match out {
        Output::Json | Output::Yaml => {
            let mut b = BytesMut::with_capacity(obj.json.len() + 32);
            b.put_slice(b"{\"type\":\"");
            b.put_slice(kind.as_bytes());
            b.put_slice(b"\",\"object\":");
            b.put_slice(&obj.json);
            b.put_slice(b"}\n");
            b.freeze()
        }
        Output::Metadata => {
            let mut b = BytesMut::with_capacity(1024);
            b.put_slice(b"{\"type\":\"");
            b.put_slice(kind.as_bytes());
            b.put_slice(b"\",\"object\":");
            partial_metadata_bytes(obj, &mut b);
            b.put_slice(b"}\n");
            b.freeze()
        }
        Output::Table(include) => {
            let v = obj.value();
            let meta = json!({"resourceVersion": obj.rv.to_string()});
            let printer = printer_for(info, &v);
            frame(
                kind,
                &table(printer, std::slice::from_ref(&v), meta, include, first),
            )
        }
    }
}

pub fn frame(kind: &str, object: &Value) -> Bytes {
    let mut s = json!({"type": kind, "object": object}).to_string();
    s.push('\n');
    Bytes::from(s)
}

/// A BOOKMARK: only the resourceVersion (and, for watch-list, the end-of-initial-events mark).
pub fn bookmark(info: &ResourceInfo, rv: u64, initial_events_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
    if initial_events_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    frame(
        "BOOKMARK",
        &json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": meta}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_the_first_producible_type() {
        let q = Query::default();
        assert_eq!(
            negotiate(
                Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
                &q
            )
            .unwrap(),
            Output::Table(IncludeObject::Metadata)
        );
        assert_eq!(
            negotiate(
                Some("application/vnd.kubernetes.protobuf,application/json"),
                &q
            )
            .unwrap(),
            Output::Json
        );
        assert_eq!(negotiate(None, &q).unwrap(), Output::Json);
        assert!(negotiate(Some("application/vnd.kubernetes.protobuf"), &q).is_err());
        assert_eq!(
            negotiate(
                Some("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"),
                &q
            )
            .unwrap(),
            Output::Metadata
        );
    }

    #[test]
    fn metadata_frames_carry_only_metadata() {
        let info = crate::builtin::resources()
            .into_iter()
            .find(|r| r.group.is_empty() && r.kind == "ConfigMap")
            .unwrap();
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n", "labels": {"x": "y"}},
            "data": {"big": "value"}});
        let o = CachedObject::from_value(&info, "/registry/configmaps/n/a", &v, 7);
        let frame = watch_event(Output::Metadata, None, "ADDED", &o, false);
        let parsed: Value = serde_json::from_slice(&frame).unwrap();
        assert_eq!(
            parsed,
            json!({"type": "ADDED", "object": {"kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1", "metadata": v["metadata"]}})
        );
        let list = list(
            Output::Metadata,
            &info,
            &[Arc::new(o)],
            json!({"resourceVersion": "7"}),
        );
        let parsed: Value = serde_json::from_slice(&list).unwrap();
        assert_eq!(parsed["kind"], "PartialObjectMetadataList");
        assert_eq!(parsed["items"][0]["metadata"], v["metadata"]);
        assert!(parsed["items"][0].get("data").is_none());
    }
}
