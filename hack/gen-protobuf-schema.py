#!/usr/bin/env python3
"""Generate apiserver/src/protobuf/schema.json, the message schema k8rs uses to decode
`application/vnd.kubernetes.protobuf` request bodies into Kubernetes JSON.

Sources (read from the local cargo registry, no network):
  * k8s-pb 0.9.0      prost structs: field tags, wire kinds, message types, maps, repeated.
  * k8s-openapi 0.29.0 (v1_33): the JSON name of each field (its Deserialize impl), and
                       the Rust type of each field (to spot wrapper messages and inlined
                       embedded structs).

Usage: python3 hack/gen-protobuf-schema.py [--check]
  (fetch the crates first with `cargo fetch`; k8s-pb is a dev-dependency of k8rs-apiserver)

Output format (compact JSON, one message per line, sorted, deterministic):
  {"_": "<header>",
   "m": {"<key>": [[tag, "jsonName", type, flags?, patch?], ...], ...},
   "w": ["<key of a wrapper message whose JSON form is the list in its field 1>", ...],
   "a": ["<key of a message marked +structType=atomic>", ...],
   "k": {"<apiVersion>/<Kind>": "<key>", ...}}
  key   = lowercased module path + "::" + lowercased struct name, e.g. "api::core::v1::namespace"
  type  = "s" string, "b" bool, "i" int32, "l" int64, "d" double, "y" bytes,
          a message key, or ["s", valueType] for a map with string keys
  flags = "r" repeated, "n" inline (an embedded Go struct: its fields join the parent's JSON),
          "z" omit the zero value ("", 0, false, empty bytes); "" when only `patch` follows
  patch = the field's Go markers kept in k8s-pb's doc comments, for strategic merge patch and
          server-side apply; only the markers present:
          {"s": "+patchStrategy" ("merge", "retainKeys", "merge,retainKeys", "replace"),
           "k": "+patchMergeKey", "l": "+listType" ("atomic", "set", "map"),
           "lk": ["+listMapKey", ...] (in declaration order), "mt": "+mapType"}

Why "z": Go's protobuf marshaller writes every non-pointer field, zero or not, while its JSON
encoder drops zero values of `omitempty` fields. So a body from kubectl carries `"uid": ""`,
`"nodePort": 0`, `"stdin": false`, ... that the same object sent as JSON would not. Neither crate
says whether a Go field is a pointer (whose zero must be kept: `replicas: 0`), so:
  * optional strings and bytes omit "" (Go pointer strings where "" differs from unset are
    listed in KEEP_EMPTY_STRINGS);
  * optional ints and bools keep their zero unless listed in OMIT_ZERO (non-pointer `omitempty`
    fields of k8s.io/api, by struct and JSON name; a name matches that struct in every version).
"""

import glob
import json
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "apiserver", "src", "protobuf", "schema.json")
PB_VERSION = "0.9.0"
OPENAPI_VERSION = "0.29.0"
OPENAPI_FEATURE = "v1_33"

# Go *string fields whose "" means something other than unset.
KEEP_EMPTY_STRINGS = {
    "persistentvolumeclaimspec.storageClassName",
    "persistentvolumeclaimspec.volumeAttributesClassName",
}

# Non-pointer `omitempty` int and bool fields of k8s.io/api (v1.33): zero means unset.
OMIT_ZERO = {
    f"{struct}.{field}"
    for struct, fields in {
        "statusdetails": "retryAfterSeconds",
        "condition": "observedGeneration",
        "objectmeta": "generation",
        "status": "code",
        "customresourcecolumndefinition": "priority",
        "customresourcedefinitionspec": "preserveUnknownFields",
        "customresourcedefinitionversion": "deprecated",
        "jsonschemaprops": "exclusiveMaximum exclusiveMinimum nullable uniqueItems "
        "x-kubernetes-embedded-resource x-kubernetes-int-or-string",
        "apiservicespec": "insecureSkipTLSVerify",
        "servicebackendport": "number",
        "poddisruptionbudgetstatus": "observedGeneration",
        "exactdevicerequest": "count",
        "devicesubrequest": "count",
        "devicerequest": "count",
        "storageversioncondition": "observedGeneration",
        "event": "count deprecatedCount",
        "eventseries": "count",
        "scalespec": "replicas",
        "horizontalpodautoscalerstatus": "currentReplicas",
        "queuingconfiguration": "handSize queueLengthLimit queues",
        "flowschemaspec": "matchingPrecedence",
        "resourcepolicyrule": "clusterScope",
        "tokenreviewstatus": "authenticated",
        "subjectaccessreviewstatus": "denied",
        "deploymentspec": "minReadySeconds paused",
        "statefulsetspec": "minReadySeconds",
        "daemonsetspec": "minReadySeconds",
        "replicasetspec": "minReadySeconds",
        "replicationcontrollerspec": "minReadySeconds",
        "statefulsetordinals": "start",
        "deploymentstatus": "availableReplicas observedGeneration readyReplicas replicas unavailableReplicas updatedReplicas",
        "replicasetstatus": "availableReplicas fullyLabeledReplicas observedGeneration readyReplicas",
        "replicationcontrollerstatus": "availableReplicas fullyLabeledReplicas observedGeneration readyReplicas",
        "daemonsetstatus": "numberAvailable numberUnavailable observedGeneration updatedNumberScheduled",
        "statefulsetstatus": "currentReplicas observedGeneration readyReplicas updatedReplicas",
        "jobstatus": "active failed succeeded",
        "validatingadmissionpolicystatus": "observedGeneration",
        "podstatus": "observedGeneration",
        "podcondition": "observedGeneration",
        "containerport": "hostPort",
        "containerstateterminated": "signal",
        "containerimage": "sizeBytes",
        "serviceport": "nodePort",
        "servicespec": "healthCheckNodePort publishNotReadyAddresses",
        "probe": "failureThreshold initialDelaySeconds periodSeconds successThreshold timeoutSeconds",
        "container": "stdin stdinOnce tty",
        "ephemeralcontainer": "stdin stdinOnce tty",
        "podspec": "hostIPC hostNetwork hostPID",
        "nodespec": "unschedulable",
        "priorityclass": "globalDefault",
        "volumemount": "readOnly",
        "volumemountstatus": "readOnly",
        "awselasticblockstorevolumesource": "partition readOnly",
        "gcepersistentdiskvolumesource": "partition readOnly",
        "azurefilevolumesource": "readOnly",
        "azurefilepersistentvolumesource": "readOnly",
        "cephfsvolumesource": "readOnly",
        "cephfspersistentvolumesource": "readOnly",
        "cindervolumesource": "readOnly",
        "cinderpersistentvolumesource": "readOnly",
        "csipersistentvolumesource": "readOnly",
        "fcvolumesource": "readOnly",
        "flexvolumesource": "readOnly",
        "flexpersistentvolumesource": "readOnly",
        "glusterfsvolumesource": "readOnly",
        "glusterfspersistentvolumesource": "readOnly",
        "iscsivolumesource": "readOnly chapAuthDiscovery chapAuthSession",
        "iscsipersistentvolumesource": "readOnly chapAuthDiscovery chapAuthSession",
        "nfsvolumesource": "readOnly",
        "persistentvolumeclaimvolumesource": "readOnly",
        "portworxvolumesource": "readOnly",
        "quobytevolumesource": "readOnly",
        "rbdvolumesource": "readOnly",
        "rbdpersistentvolumesource": "readOnly",
        "scaleiovolumesource": "readOnly sslEnabled",
        "scaleiopersistentvolumesource": "readOnly sslEnabled",
        "storageosvolumesource": "readOnly",
        "storageospersistentvolumesource": "readOnly",
    }.items()
    for field in fields.split()
}

SCALARS = {"string": "s", "bool": "b", "int32": "i", "int64": "l", "double": "d", "bytes": "y"}


def find_crate(name):
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    hits = sorted(glob.glob(os.path.join(home, "registry", "src", "*", name)))
    if not hits:
        sys.exit(f"{name} not found in {home}/registry/src: run `cargo fetch` in the workspace first")
    return hits[0]


def norm(name):
    """Compare field names across prost and k8s-openapi: `pod_cid_rs` ~ `pod_cidrs`, `r#type` ~ `type_`."""
    name = name.removeprefix("r#")
    return re.sub(r"[^a-z0-9]", "", name.lower())


# lowercase word -> its all-caps spelling in Kubernetes JSON names ("ip" -> "IP"); "uid" is
# seeded because k8s-openapi v1_33 has no camel-case name with it while newer messages do (podUID).
ACRONYMS = {"uid": "UID"}


def learn_acronyms(openapi):
    """Words Kubernetes JSON names spell in capitals after the first word (podUID, hostIPs)."""
    seen = {}
    for oa in openapi.values():
        for jname in oa["json"].values():
            for word in re.findall(r"[A-Z]{2,}s?(?![a-z])|[A-Z][a-z0-9]+", jname)[0 if jname[:1].isupper() else 0 :]:
                bucket = seen.setdefault(word.lower(), {})
                bucket[word] = bucket.get(word, 0) + 1
    for low, forms in sorted(seen.items()):
        best = sorted(forms.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        if sum(1 for c in best if c.isupper()) >= 2:
            ACRONYMS[low] = best


def lower_camel(snake):
    parts = snake.removeprefix("r#").split("_")
    return parts[0] + "".join(ACRONYMS.get(p, p[:1].upper() + p[1:]) for p in parts[1:])


def strip_generic(ty, wrapper):
    """`wrapper<inner>` -> inner, else None."""
    if ty.startswith(wrapper + "<") and ty.endswith(">"):
        return ty[len(wrapper) + 1 : -1]
    return None


def split_top(s):
    """Split `A, B<C, D>` at top-level commas."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


# ---------------------------------------------------------------- k8s-pb

def parse_pb(root):
    """{key: {"module": [...], "name": str, "fields": [dict]}} and {apiVersion/Kind: key}."""
    messages, kinds = {}, {}
    for path in sorted(glob.glob(os.path.join(root, "src", "**", "mod.rs"), recursive=True)):
        module = os.path.relpath(os.path.dirname(path), os.path.join(root, "src")).split(os.sep)
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(r"^pub struct (\w+) \{(?:\}|\n(.*?)^\})", text, re.M | re.S):
            name, body = m.group(1), m.group(2) or ""
            fields = []
            # Each field: a #[prost(...)] attribute, then `pub name: type,` (type may wrap lines).
            for f in re.finditer(r"#\[prost\((.*?)\)\]\s*pub ([\w#]+):", body, re.S):
                attr, fname, fty = f.group(1), f.group(2), field_type(body, f.end())
                field = pb_field(module, attr, fname, fty, path, name)
                field["patch"] = field_patch(doc_markers(body, f.start()), f"{path}: {name}.{fname}")
                fields.append(field)
            key = "::".join(module + [name]).lower()
            atomic = "atomic" in doc_markers(text, m.start()).get("structType", [])
            messages[key] = {"module": module, "name": name, "fields": fields, "atomic": atomic}
        for m in re.finditer(
            r'impl crate::Resource for (\w+) \{\s*const API_VERSION: &\'static str = "([^"]*)";.*?'
            r'const KIND: &\'static str = "([^"]*)";',
            text,
            re.S,
        ):
            kinds[f"{m.group(2)}/{m.group(3)}"] = "::".join(module + [m.group(1)]).lower()
    return messages, kinds


def field_type(body, start):
    """The type after `pub name:`, up to the comma at generic depth 0, whitespace removed."""
    depth, i = 0, start
    while i < len(body):
        ch = body[i]
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 0:
            break
        i += 1
    # rustfmt leaves a trailing comma in wrapped generics: `Vec<\n    T,\n>`.
    return re.sub(r"\s+", "", body[start:i]).replace(",>", ">")


# Go markers (`/// +name=value` doc comment lines) recorded per field, and their schema.json keys.
FIELD_MARKERS = {"patchStrategy": "s", "patchMergeKey": "k", "listType": "l", "listMapKey": "lk", "mapType": "mt"}


def doc_markers(text, start):
    """{marker: [values]} from the `///` doc lines right above `start` (attributes in between
    are skipped), e.g. {"patchStrategy": ["merge"], "listMapKey": ["containerPort", "protocol"]}."""
    found = {}
    for line in reversed(text[:start].split("\n")[:-1]):
        line = line.strip()
        if line.startswith("#["):
            continue
        if not line.startswith("///"):
            break
        m = re.match(r"///\s*\+([A-Za-z]+)=(\S+)\s*$", line)
        if m:
            found.setdefault(m.group(1), []).insert(0, m.group(2))
    return found


def field_patch(markers, where):
    """The "patch" entry of a field: its markers, one value each except listMapKey."""
    out = {}
    for name, short in FIELD_MARKERS.items():
        values = markers.get(name)
        if not values:
            continue
        if name == "listMapKey":
            out[short] = values
        elif len(set(values)) > 1:
            sys.exit(f"{where}: conflicting +{name} markers {values}")
        else:
            out[short] = values[0]
    return out


def resolve(module, ty):
    """A prost type path relative to `module` -> absolute message key."""
    ty = ty.removeprefix("::prost::alloc::boxed::Box<").removesuffix(">") if ty.startswith("::prost::alloc::boxed::Box<") else ty
    parts = ty.split("::")
    base = list(module)
    while parts and parts[0] == "super":
        parts.pop(0)
        base.pop()
    if parts and parts[0] == "crate":
        parts.pop(0)
        base = []
    return "::".join(base + parts).lower()


def pb_field(module, attr, fname, fty, path, struct):
    tag = int(re.search(r'tag\s*=\s*"(\d+)"', attr).group(1))
    where = f"{path}: {struct}.{fname}"
    field = {"tag": tag, "snake": fname.removeprefix("r#"), "repeated": ", repeated" in attr or attr.startswith("repeated")}
    mm = re.match(r'(?:btree_)?map\s*=\s*"(\w+),\s*(\w+)"', attr)
    if mm:
        k, v = mm.group(1), mm.group(2)
        if k != "string":
            sys.exit(f"{where}: map key {k} not supported")
        if v == "message":
            inner = None
            for wrapper in ("::prost::alloc::collections::BTreeMap", "::std::collections::HashMap"):
                inner = strip_generic(fty, wrapper) or inner
            if inner is None:
                sys.exit(f"{where}: cannot read map type {fty}")
            vty = resolve(module, split_top(inner)[1])
        elif v in SCALARS:
            vty = SCALARS[v]
        else:
            sys.exit(f"{where}: map value {v} not supported")
        field["type"] = ["s", vty]
        return field
    kind = attr.split(",")[0].split("=")[0].strip()
    if kind == "message":
        inner = fty
        for wrapper in ("::core::option::Option", "::prost::alloc::vec::Vec", "::prost::alloc::boxed::Box"):
            inner = strip_generic(inner, wrapper) or inner
        field["type"] = resolve(module, inner)
    elif kind in SCALARS:
        field["type"] = SCALARS[kind]
    else:
        sys.exit(f"{where}: prost kind {kind} not supported")
    return field


# ---------------------------------------------------------------- k8s-openapi

def parse_openapi(root):
    """{key: {"json": {snake: jsonName}, "types": {snake: rustType}}}, keyed like k8s-pb."""
    out = {}
    base = os.path.join(root, "src", OPENAPI_FEATURE)
    for path in sorted(glob.glob(os.path.join(base, "**", "*.rs"), recursive=True)):
        if os.path.basename(path) in ("mod.rs", "list.rs"):
            continue
        module = os.path.relpath(os.path.dirname(path), base).split(os.sep)
        text = open(path, encoding="utf-8").read()
        sm = re.search(r"^pub struct (\w+) \{\n(.*?)^\}", text, re.M | re.S)
        if not sm:
            continue
        types = {}
        for f in re.finditer(r"^    pub (\w+): (.*),$", sm.group(2), re.M):
            types[f.group(1)] = f.group(2)
        json_names = {}
        for f in re.finditer(r'"([^"]+)" => Field::Key_(\w+),', text):
            json_names[f.group(2)] = f.group(1)
        out["::".join(module + [sm.group(1)]).lower()] = {"json": json_names, "types": types}
    return out


def is_list_type(rust_ty):
    """Option<Vec<String>> / BTreeMap<String, Vec<String>> value -> element is a list of strings."""
    return re.search(r"(^|<|, )std::vec::Vec<std::string::String>>*$", rust_ty) is not None


# ---------------------------------------------------------------- join

def global_names(openapi):
    """norm(name) -> {jsonName: count} over every k8s-openapi struct."""
    names = {}
    for oa in openapi.values():
        for jname in oa["json"].values():
            bucket = names.setdefault(norm(jname), {})
            bucket[jname] = bucket.get(jname, 0) + 1
    return names


def pick(candidates, snake):
    """Choose among JSON names sharing a normalized form, deterministically."""
    camel = lower_camel(snake)
    if camel in candidates:
        return camel
    return sorted(candidates.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def inline_fits(messages, sub_key, oa):
    """Most fields of the embedded message are fields of the parent's k8s-openapi struct (k8s-pb
    may be newer than k8s-openapi, so a few may be missing)."""
    sub = messages.get(sub_key)
    if not sub or not sub["fields"]:
        return False
    names = {norm(s) for s in oa["json"]} | {norm(j) for j in oa["json"].values()}
    hits = sum(1 for f in sub["fields"] if norm(f["snake"]) in names)
    return hits * 2 > len(sub["fields"])


def build():
    pb_root, oa_root = find_crate(f"k8s-pb-{PB_VERSION}"), find_crate(f"k8s-openapi-{OPENAPI_VERSION}")
    messages, kinds = parse_pb(pb_root)
    for key, msg in messages.items():
        for f in msg["fields"]:
            ref = f["type"][1] if isinstance(f["type"], list) else f["type"]
            if "::" in ref and ref not in messages:
                sys.exit(f"{key}.{f['snake']}: unknown message {ref}")
    openapi = parse_openapi(oa_root)
    everywhere = global_names(openapi)
    learn_acronyms(openapi)

    def by_norm(oa):
        table = {}
        for snake, jname in oa["json"].items():
            table.setdefault(norm(snake), snake)
            table.setdefault(norm(jname), snake)
        return table

    # Embedded Go structs (`json:",inline"`): a message field whose name the parent's JSON lacks,
    # but whose own fields the parent's JSON has. Its fields take their JSON names from the parent.
    inline, inherited = set(), {}
    for key in sorted(messages):
        oa = openapi.get(key)
        if not oa:
            continue
        table = by_norm(oa)
        for f in messages[key]["fields"]:
            ty = f["type"]
            if norm(f["snake"]) in table or f["repeated"] or not isinstance(ty, str) or "::" not in ty:
                continue
            if inline_fits(messages, ty, oa):
                inline.add((key, f["tag"]))
                inherited.setdefault(ty, key)

    wrappers, used = set(), set()
    stats = {"messages": len(messages), "fields": 0, "exact": 0, "inherited": 0, "global": [], "camel": []}
    out = {}
    for key in sorted(messages):
        msg = messages[key]
        oa = openapi.get(key) or openapi.get(inherited.get(key, ""))
        table = by_norm(oa) if oa else {}
        fields = []
        for f in sorted(msg["fields"], key=lambda f: f["tag"]):
            stats["fields"] += 1
            entry = [f["tag"], None, f["type"]]
            flags = "r" if f["repeated"] else ""
            snake = table.get(norm(f["snake"]))
            if (key, f["tag"]) in inline:
                entry[1] = ""
                flags += "n"
            elif snake is not None:
                entry[1] = oa["json"][snake]
                stats["exact" if key in openapi else "inherited"] += 1
                # A proto message standing in for a Go named slice (ExtraValue, Verbs): JSON is a list.
                sub = f["type"][1] if isinstance(f["type"], list) else f["type"]
                if "::" in sub and is_list_type(oa["types"].get(snake, "")) and is_wrapper_shape(messages, sub):
                    wrappers.add(sub)
            elif norm(f["snake"]) in everywhere:
                # No k8s-openapi struct (older versions, lists, options): the name another struct uses.
                entry[1] = pick(everywhere[norm(f["snake"])], f["snake"])
                stats["global"].append(f"{key}.{f['snake']}")
            else:
                entry[1] = lower_camel(f["snake"])
                stats["camel"].append(f"{key}.{f['snake']} -> {entry[1]}")
            if omit_zero(key if key in openapi else inherited.get(key, key), entry, f, oa, snake, used):
                flags += "z"
            if flags or f["patch"]:
                entry.append(flags)
            if f["patch"]:
                entry.append(f["patch"])
            fields.append(entry)
        out[key] = fields
    check_patch_markers(out)
    # The same Go named slice in other versions of its group (v1beta1 ExtraValue, ...).
    short = {w.rsplit("::", 1)[1] for w in wrappers}
    wrappers |= {k for k in messages if k.rsplit("::", 1)[1] in short and is_wrapper_shape(messages, k)}
    stats["inline"] = sorted(f"{k}.{t}" for k, t in inline)
    stale = (OMIT_ZERO | KEEP_EMPTY_STRINGS) - used
    if stale:
        sys.exit(f"OMIT_ZERO / KEEP_EMPTY_STRINGS entries that match no optional field: {sorted(stale)}")
    atomic = sorted(k for k, m in messages.items() if m["atomic"])
    return out, sorted(wrappers), atomic, dict(sorted(kinds.items())), stats


def json_names(out, key):
    """The JSON field names of a message, with those of its inline (embedded) messages."""
    names = set()
    for entry in out.get(key, []):
        if entry[1] == "":
            names |= json_names(out, entry[2])
        else:
            names.add(entry[1])
    return names


def check_patch_markers(out):
    """Catch marker typos: a merge list of objects needs a merge key its elements have."""
    for key, fields in out.items():
        for entry in fields:
            patch = entry[4] if len(entry) > 4 else {}
            ty, repeated = entry[2], "r" in (entry[3] if len(entry) > 3 else "")
            elem_is_message = isinstance(ty, str) and "::" in ty
            where = f"{key}.{entry[1]}"
            strategy = patch.get("s", "").split(",")
            if "merge" in strategy and not repeated:
                sys.exit(f"{where}: patchStrategy=merge on a field that is not a list")
            if "merge" in strategy and elem_is_message and "k" not in patch:
                sys.exit(f"{where}: patchStrategy=merge on a list of objects without patchMergeKey")
            for mk in ([patch["k"]] if "k" in patch else []) + patch.get("lk", []):
                if not elem_is_message or mk not in json_names(out, ty):
                    sys.exit(f"{where}: merge key {mk} is not a field of {ty}")


def omit_zero(struct_key, entry, f, oa, snake, used):
    """Whether Go's JSON would drop this field's zero value (see the module doc)."""
    ty = entry[2]
    if f["repeated"] or not isinstance(ty, str) or ty not in ("s", "y", "i", "l", "b"):
        return False
    # Required fields (not Option in k8s-openapi) have no omitempty: their zero is written.
    if oa is not None and snake is not None and not oa["types"].get(snake, "").startswith("Option<"):
        return False
    name = f"{struct_key.rsplit('::', 1)[1]}.{entry[1]}"
    if name in OMIT_ZERO or name in KEEP_EMPTY_STRINGS:
        used.add(name)
    if ty in ("s", "y"):
        return name not in KEEP_EMPTY_STRINGS
    return name in OMIT_ZERO


def is_wrapper_shape(messages, key):
    fields = messages.get(key, {}).get("fields", [])
    return len(fields) == 1 and fields[0]["tag"] == 1 and fields[0]["repeated"] and fields[0]["type"] == "s"


def render(messages, wrappers, atomic, kinds):
    header = (
        f"GENERATED by hack/gen-protobuf-schema.py from k8s-pb {PB_VERSION} and k8s-openapi "
        f"{OPENAPI_VERSION} ({OPENAPI_FEATURE}); do not edit. Regenerate: python3 hack/gen-protobuf-schema.py"
    )
    dump = lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False)  # noqa: E731
    lines = ["{" + dump("_") + ":" + dump(header) + ",", dump("m") + ":{"]
    items = list(messages.items())
    for i, (key, fields) in enumerate(items):
        lines.append(dump(key) + ":" + dump(fields) + ("," if i + 1 < len(items) else ""))
    lines.append("},")
    lines.append(dump("w") + ":" + dump(wrappers) + ",")
    lines.append(dump("a") + ":" + dump(atomic) + ",")
    lines.append(dump("k") + ":{")
    kitems = list(kinds.items())
    for i, (k, v) in enumerate(kitems):
        lines.append(dump(k) + ":" + dump(v) + ("," if i + 1 < len(kitems) else ""))
    lines.append("}}")
    return "\n".join(lines) + "\n"


def main():
    messages, wrappers, atomic, kinds, stats = build()
    text = render(messages, wrappers, atomic, kinds)
    if "--check" in sys.argv:
        current = open(OUT, encoding="utf-8").read() if os.path.exists(OUT) else ""
        if current != text:
            sys.exit(f"{OUT} is stale: run python3 hack/gen-protobuf-schema.py")
        return
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrappers (JSON list): {', '.join(wrappers)}", file=sys.stderr)
    print(f"inline (embedded) fields: {', '.join(stats['inline'])}", file=sys.stderr)
    print(f"JSON names: {stats['exact']} from the message's k8s-openapi struct, {stats['inherited']} from "
          f"the struct it is inlined into, {len(stats['global'])} from another struct's field of the same "
          f"name (no k8s-openapi struct), {len(stats['camel'])} fell back to lowerCamelCase", file=sys.stderr)
    for name in stats["camel"] if "-v" in sys.argv else []:
        print(f"  camel: {name}", file=sys.stderr)
    for name in stats["global"] if "-vv" in sys.argv else []:
        print(f"  global: {name}", file=sys.stderr)

if __name__ == "__main__":
    main()
