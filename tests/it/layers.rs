//! The shape of the house, kept by a test: `src/` is three layers on a ground, and a module may
//! depend only on its own layer or the layers below it, with no loop between modules.
//!
//! ```text
//! crate root (lib.rs)   the crate's face
//! handler               recognise the event, hand it to its way in
//! inbound/              one module per way in
//! core/                 the request and the one path that sets a password
//! aws/                  the services
//! error, settings, logging   the ground
//! ```
//!
//! Every form a dependency takes is read, not only `use` lines: `crate::x::Y` paths in code and
//! types, `super::` and `self::`, a folder module's paths into its children, and re-exports (a
//! name `lib.rs` or a folder's `mod.rs` re-exports counts as the module that defines it).
//! Comments and string literals are not code and are skipped. `main.rs` is the binary: it only
//! wires, through the crate's face.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// One dependency: `from` names `to` at `file:line`.
#[derive(Debug, Clone)]
struct Edge {
    from: Vec<String>,
    to: Vec<String>,
    file: String,
    line: usize,
}

/// A layer: its rank (higher stands above) and its name.
fn layer_of(module: &[String]) -> Option<(u8, &'static str)> {
    match module.first().map(String::as_str) {
        None => Some((5, "the crate root")),
        Some("handler") => Some((4, "handler")),
        Some("inbound") => Some((3, "inbound")),
        Some("core") => Some((2, "core")),
        Some("aws") => Some((1, "aws")),
        Some("error" | "settings" | "logging") => Some((0, "the ground")),
        Some(_) => None,
    }
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "crate".into()
    } else {
        format!("crate::{}", module.join("::"))
    }
}

/// `src/core/bulk.rs` -> `core::bulk`; `src/inbound/cloudformation/mod.rs` -> its folder.
fn module_of(path: &str) -> Vec<String> {
    let path = path.strip_prefix("src/").unwrap_or(path);
    let path = path.strip_suffix(".rs").unwrap_or(path);
    let mut parts: Vec<String> = path.split('/').map(str::to_owned).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The text with comments and string and character literals blanked out, lines kept.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && next == Some('r')))
            && !is_ident(chars.get(i.wrapping_sub(1)).copied())
            && raw_string_at(&chars, i).is_some()
        {
            let end = raw_string_at(&chars, i).unwrap_or(i);
            for &c in &chars[i..end] {
                out.push(blank(c));
            }
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let step = if chars[i] == '\\' { 2 } else { 1 };
                for &c in chars.iter().skip(i).take(step) {
                    out.push(blank(c));
                }
                i += step;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{7}'), or a lifetime ('a), which is code.
            let end = if next == Some('\\') {
                chars
                    .get(i + 3..)
                    .and_then(|rest| rest.iter().position(|&c| c == '\''))
                    .map(|p| i + 4 + p)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            match end {
                Some(end) => {
                    out.extend(std::iter::repeat_n(' ', end - i));
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Where the raw string that starts at `at` (`r"…"`, `r#"…"#`, `br"…"`) ends, if one does.
fn raw_string_at(chars: &[char], at: usize) -> Option<usize> {
    let mut i = at + if chars[at] == 'b' { 2 } else { 1 };
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    if chars.get(i) != Some(&'"') {
        return None;
    }
    i += 1;
    while i < chars.len() {
        if chars[i] == '"' && chars[i + 1..].iter().take(hashes).filter(|&&c| c == '#').count() == hashes {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
    Some(chars.len())
}

fn is_ident(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// One file, read: the paths it names (each with its line and the inline module it stands in),
/// the child modules it declares, and the names it re-exports.
struct Read {
    /// (segments as written, line, inline modules around it)
    paths: Vec<(Vec<String>, usize, Vec<String>)>,
    children: BTreeSet<String>,
    /// A re-exported name -> the path it stands for, as written.
    reexports: HashMap<String, Vec<String>>,
}

fn read(text: &str) -> Read {
    let code = code_only(text);
    let chars: Vec<char> = code.chars().collect();
    let mut read = Read {
        paths: Vec::new(),
        children: BTreeSet::new(),
        reexports: HashMap::new(),
    };
    let mut line = 1;
    let mut depth = 0usize;
    // Inline modules (`mod tests { … }`): their name and the brace depth they close at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
        }
        if c == '{' {
            depth += 1;
        }
        if c == '}' {
            depth = depth.saturating_sub(1);
            if inline.last().is_some_and(|(_, at)| *at == depth) {
                inline.pop();
            }
        }
        if !is_ident(Some(c)) || is_ident(i.checked_sub(1).map(|p| chars[p])) {
            i += 1;
            continue;
        }
        let word: String = chars[i..].iter().take_while(|&&c| is_ident(Some(c))).collect();
        let after = i + word.chars().count();
        let inline_path: Vec<String> = inline.iter().map(|(name, _)| name.clone()).collect();
        let preceded_by_path = i >= 2 && chars[i - 1] == ':' && chars[i - 2] == ':';
        if word == "mod" {
            let rest: String = chars[after..].iter().collect();
            let rest = rest.trim_start();
            let name: String = rest.chars().take_while(|&c| is_ident(Some(c))).collect();
            let tail = rest[name.len()..].trim_start();
            if tail.starts_with(';') && inline.is_empty() {
                read.children.insert(name);
            } else if tail.starts_with('{') {
                inline.push((name, depth));
            }
            i = after;
        } else if word == "use" && !preceded_by_path {
            let end = chars[after..]
                .iter()
                .position(|&c| c == ';')
                .map_or(chars.len(), |p| after + p);
            let tree: String = chars[after..end].iter().collect();
            let public = chars[..i].iter().rev().collect::<String>();
            let public = public.trim_start().starts_with(')') || public.trim_start().starts_with("bup");
            for (path, alias) in expand(&tree, Vec::new()) {
                if public && let Some(alias) = alias {
                    read.reexports.insert(alias, path.clone());
                }
                read.paths.push((path, line, inline_path.clone()));
            }
            line += chars[i..end].iter().filter(|&&c| c == '\n').count();
            i = end;
        } else if !preceded_by_path && chars.get(after) == Some(&':') && chars.get(after + 1) == Some(&':') {
            let mut segments = vec![word];
            let mut j = after;
            while chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':') {
                let segment: String = chars[j + 2..]
                    .iter()
                    .take_while(|&&c| is_ident(Some(c)))
                    .collect();
                if segment.is_empty() {
                    break;
                }
                j += 2 + segment.chars().count();
                segments.push(segment);
            }
            read.paths.push((segments, line, inline_path));
            i = j;
        } else {
            i = after;
        }
    }
    read
}

/// A use tree (`crate::a::{b, c::D as E, self}`) as its paths, each with the name it brings in.
fn expand(tree: &str, prefix: Vec<String>) -> Vec<(Vec<String>, Option<String>)> {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = tree[..open]
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut parts = Vec::new();
        let (mut level, mut start) = (0, 0);
        for (at, c) in inner.char_indices() {
            match c {
                '{' => level += 1,
                '}' => level -= 1,
                ',' if level == 0 => {
                    parts.push(&inner[start..at]);
                    start = at + 1;
                }
                _ => {}
            }
        }
        parts.push(&inner[start..]);
        let prefix: Vec<String> = prefix.into_iter().chain(head).collect();
        return parts
            .into_iter()
            .filter(|part| !part.trim().is_empty())
            .flat_map(|part| expand(part, prefix.clone()))
            .collect();
    }
    let (path, alias) = match tree.split_once(" as ") {
        Some((path, alias)) => (path, Some(alias.trim().to_owned())),
        None => (tree, None),
    };
    let mut segments: Vec<String> = prefix;
    segments.extend(
        path.split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    );
    if segments.last().map(String::as_str) == Some("self") {
        segments.pop();
    }
    let alias = alias.or_else(|| segments.last().filter(|s| *s != "*").cloned());
    vec![(segments, alias)]
}

/// The modules of `files` and every dependency between them.
fn edges(files: &[(String, String)]) -> Result<(Vec<Edge>, BTreeSet<Vec<String>>), String> {
    let reads: Vec<(String, Vec<String>, Read)> = files
        .iter()
        .map(|(path, text)| (path.clone(), module_of(path), read(text)))
        .collect();
    let modules: BTreeSet<Vec<String>> = reads.iter().map(|(_, module, _)| module.clone()).collect();
    for module in &modules {
        if layer_of(module).is_none() {
            return Err(format!(
                "{} stands in no layer: put it under inbound/, core/ or aws/, or make it part of the ground",
                name(module)
            ));
        }
    }
    let by_module: HashMap<&Vec<String>, &Read> = reads.iter().map(|(_, m, r)| (m, r)).collect();
    let mut found = Vec::new();
    for (file, module, read) in &reads {
        for (written, line, inline) in &read.paths {
            let here: Vec<String> = module.iter().chain(inline).cloned().collect();
            let Some(absolute) = absolute(written, &here, read) else {
                continue;
            };
            let to = owner(&absolute, &modules, &by_module);
            // A path into the file's own module (an inline module of it included) is no dependency,
            // and one line that names the same module twice is one dependency.
            let seen = |e: &Edge| e.file == *file && e.line == *line && e.to == to;
            if to == *module || found.iter().any(seen) {
                continue;
            }
            found.push(Edge {
                from: module.clone(),
                to,
                file: file.clone(),
                line: *line,
            });
        }
    }
    Ok((found, modules))
}

/// A path as written, made absolute from the module `here`; `None` for another crate's path.
fn absolute(written: &[String], here: &[String], read: &Read) -> Option<Vec<String>> {
    let (first, rest) = written.split_first()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => here[..here.len().checked_sub(1)?].to_vec(),
        child if read.children.contains(child) => {
            let mut base = here.to_vec();
            base.push(child.to_owned());
            return Some(base.into_iter().chain(rest.iter().cloned()).collect());
        }
        _ => return None,
    };
    let mut rest = rest.iter().peekable();
    while rest.peek().map(|s| s.as_str()) == Some("super") {
        base.pop()?;
        rest.next();
    }
    Some(base.into_iter().chain(rest.cloned()).collect())
}

/// The module that owns `path`: the longest known module it starts with, followed through a
/// re-export when the next segment is one.
fn owner(
    path: &[String],
    modules: &BTreeSet<Vec<String>>,
    by_module: &HashMap<&Vec<String>, &Read>,
) -> Vec<String> {
    let mut path = path.to_vec();
    for _ in 0..8 {
        let module = (0..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|prefix| modules.contains(prefix))
            .unwrap_or_default();
        let Some(item) = path.get(module.len()) else {
            return module;
        };
        let Some(target) = by_module.get(&module).and_then(|read| read.reexports.get(item)) else {
            return module;
        };
        let Some(target) = absolute(target, &module, by_module[&module]) else {
            return module;
        };
        path = target
            .into_iter()
            .chain(path[module.len() + 1..].iter().cloned())
            .collect();
    }
    path
}

/// Every break of the rule, each naming the file, the line and both layers.
fn violations(files: &[(String, String)]) -> Vec<String> {
    let (edges, modules) = match edges(files) {
        Ok(found) => found,
        Err(problem) => return vec![problem],
    };
    let mut problems = Vec::new();
    for edge in &edges {
        let (Some((from_rank, from_layer)), Some((to_rank, to_layer))) =
            (layer_of(&edge.from), layer_of(&edge.to))
        else {
            continue;
        };
        if to_rank > from_rank {
            problems.push(format!(
                "{}:{}: {} ({from_layer}) depends on {} ({to_layer}), a layer above its own",
                edge.file,
                edge.line,
                name(&edge.from),
                name(&edge.to)
            ));
        }
    }
    for circle in circles(&edges, &modules) {
        let ties: Vec<String> = edges
            .iter()
            .filter(|e| circle.contains(&e.from) && circle.contains(&e.to))
            .map(|e| format!("{}:{} ({} -> {})", e.file, e.line, name(&e.from), name(&e.to)))
            .collect();
        const MAX_TIES: usize = 12;
        let more = ties.len().saturating_sub(MAX_TIES);
        problems.push(format!(
            "a loop between {}: {}{}",
            circle.iter().map(|m| name(m)).collect::<Vec<_>>().join(", "),
            ties[..ties.len().min(MAX_TIES)].join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ));
    }
    problems
}

/// The groups of modules that depend on each other in a loop (Tarjan's strongly connected
/// components of more than one module).
fn circles(edges: &[Edge], modules: &BTreeSet<Vec<String>>) -> Vec<BTreeSet<Vec<String>>> {
    let index: BTreeMap<&Vec<String>, usize> = modules.iter().enumerate().map(|(i, m)| (m, i)).collect();
    let names: Vec<&Vec<String>> = modules.iter().collect();
    let mut next: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); modules.len()];
    for edge in edges {
        if let (Some(&a), Some(&b)) = (index.get(&edge.from), index.get(&edge.to)) {
            next[a].insert(b);
        }
    }
    struct Tarjan<'a> {
        next: &'a [BTreeSet<usize>],
        order: Vec<Option<usize>>,
        low: Vec<usize>,
        stack: Vec<usize>,
        on_stack: Vec<bool>,
        counter: usize,
        found: Vec<Vec<usize>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, v: usize) {
            self.order[v] = Some(self.counter);
            self.low[v] = self.counter;
            self.counter += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
            for w in self.next[v].clone() {
                match self.order[w] {
                    None => {
                        self.visit(w);
                        self.low[v] = self.low[v].min(self.low[w]);
                    }
                    Some(order) if self.on_stack[w] => self.low[v] = self.low[v].min(order),
                    Some(_) => {}
                }
            }
            if Some(self.low[v]) == self.order[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack[w] = false;
                    group.push(w);
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    self.found.push(group);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        next: &next,
        order: vec![None; modules.len()],
        low: vec![0; modules.len()],
        stack: Vec::new(),
        on_stack: vec![false; modules.len()],
        counter: 0,
        found: Vec::new(),
    };
    for v in 0..modules.len() {
        if tarjan.order[v].is_none() {
            tarjan.visit(v);
        }
    }
    tarjan
        .found
        .into_iter()
        .map(|group| group.into_iter().map(|v| names[v].clone()).collect())
        .collect()
}

/// Every `.rs` file under `src/` but the binary's `main.rs`, as (path from the project, text).
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, found: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                if relative != "src/main.rs" {
                    found.push((relative, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    walk(&root.join("src"), root, &mut found);
    found.sort();
    found
}

#[test]
fn every_module_depends_only_on_its_own_layer_or_below_and_none_in_a_loop() {
    let files = sources();
    let problems = violations(&files);
    assert!(
        problems.is_empty(),
        "the house's rule is broken:\n{}",
        problems.join("\n")
    );
    // The check read the house it guards: every layer is there, and the arrows between them.
    let (found, modules) = edges(&files).unwrap();
    for layer in ["handler", "inbound", "core", "aws", "error", "settings"] {
        assert!(
            modules
                .iter()
                .any(|m| m.first().map(String::as_str) == Some(layer)),
            "{layer}"
        );
    }
    let down = |from: &str, to: &str| {
        found.iter().any(|e| {
            e.from.first().map(String::as_str) == Some(from) && e.to.first().map(String::as_str) == Some(to)
        })
    };
    assert!(
        down("handler", "inbound") && down("inbound", "core") && down("core", "aws") && down("aws", "error")
    );
}

fn tree(files: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = vec![
        (
            "src/lib.rs",
            "pub mod aws;\npub mod core;\npub mod error;\npub mod inbound;\npub use inbound::direct::Way;\n",
        ),
        ("src/error.rs", "pub enum Error {}\n"),
        ("src/aws/mod.rs", "pub mod cognito;\n"),
        ("src/core/mod.rs", "pub mod request;\npub mod setter;\n"),
        ("src/inbound/mod.rs", "pub mod direct;\n"),
        (
            "src/inbound/direct.rs",
            "use crate::core::request::Request;\npub struct Way;\n",
        ),
        (
            "src/core/request.rs",
            "use crate::error::Error;\npub struct Request;\n",
        ),
    ];
    for (path, text) in files {
        all.retain(|(p, _)| p != path);
        all.push((path, text));
    }
    all.into_iter()
        .map(|(p, t)| (p.to_owned(), t.to_owned()))
        .collect()
}

fn one_violation(files: &[(&str, &str)]) -> String {
    let found = violations(&tree(files));
    assert_eq!(found.len(), 1, "{found:#?}");
    found[0].clone()
}

#[test]
fn the_fixture_house_keeps_the_rule() {
    let clean = [
        (
            "src/aws/cognito.rs",
            "// crate::inbound::direct in a comment\nfn f() { let _ = \"crate::inbound\"; }\n",
        ),
        (
            "src/core/setter.rs",
            "use super::request::Request;\nuse crate::aws::cognito;\nfn f(_: crate::core::request::Request) {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        ),
    ];
    assert_eq!(violations(&tree(&clean)), Vec::<String>::new());
}

#[test]
fn an_upward_use_line_is_named_with_file_line_and_layers() {
    let found = one_violation(&[(
        "src/aws/cognito.rs",
        "\nuse crate::core::request::{self, Request};\n",
    )]);
    assert_eq!(
        found,
        "src/aws/cognito.rs:2: crate::aws::cognito (aws) depends on crate::core::request (core), a layer above its own"
    );
}

#[test]
fn an_upward_dependency_is_found_in_every_form_it_takes() {
    let setter_on_direct = "crate::core::setter (core) depends on crate::inbound::direct (inbound)";
    for (form, file, text, found) in [
        (
            "a path in an expression",
            "src/aws/cognito.rs",
            "fn f() {\n    let _ = crate::core::request::Request;\n}\n",
            "src/aws/cognito.rs:2: crate::aws::cognito (aws) depends on crate::core::request (core)",
        ),
        (
            "a path in a type",
            "src/core/setter.rs",
            "pub fn f(_: &crate::inbound::direct::Way) {}\n",
            &format!("src/core/setter.rs:1: {setter_on_direct}"),
        ),
        (
            "a super:: path",
            "src/core/setter.rs",
            "\n\nuse super::super::inbound::direct::Way;\n",
            &format!("src/core/setter.rs:3: {setter_on_direct}"),
        ),
        (
            "a re-export through lib.rs",
            "src/core/setter.rs",
            "use crate::Way;\n",
            &format!("src/core/setter.rs:1: {setter_on_direct}"),
        ),
    ] {
        let violation = one_violation(&[(file, text)]);
        assert!(violation.starts_with(found), "{form}: {violation}");
    }
}

#[test]
fn a_loop_within_a_layer_is_found() {
    let found = one_violation(&[
        (
            "src/core/request.rs",
            "use crate::error::Error;\nfn f() { crate::core::setter::g(); }\n",
        ),
        (
            "src/core/setter.rs",
            "use super::request::Request;\npub fn g() {}\n",
        ),
    ]);
    assert!(
        found.starts_with("a loop between crate::core::request, crate::core::setter: "),
        "{found}"
    );
    assert!(
        found.contains("src/core/request.rs:2 (crate::core::request -> crate::core::setter)"),
        "{found}"
    );
    assert!(
        found.contains("src/core/setter.rs:1 (crate::core::setter -> crate::core::request)"),
        "{found}"
    );
}

#[test]
fn a_module_outside_the_layers_is_named() {
    let found = one_violation(&[("src/helpers.rs", "pub fn f() {}\n")]);
    assert!(found.starts_with("crate::helpers stands in no layer"), "{found}");
}
