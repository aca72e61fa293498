//! The language server in process, over the protocol: initialize, didOpen, didChange,
//! published diagnostics, hover, definition, references, rename, completion, formatting,
//! symbols, code actions, semantic tokens. Fixtures mark the cursor with `$0`; snapshots
//! hold the answers.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use polc_ide::Host;
use polc_lsp::Backend;
use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::Request;
use tower_lsp_server::{ClientSocket, LspService};
use tower_service::Service;

struct Client {
    service: LspService<Backend<Host>>,
    socket: ClientSocket,
    id: i64,
}

const BASE: &str = "file:///ws/base.pol";
const SALES: &str = "file:///ws/sales.pol";

const BASE_TEXT: &str = r#"import "std/hris"
import "std/saas"

/// Everyone gets this.
policy "Base Employee Access" {
  when employment_status == "Active"
  grant google:workspace-account
  grant slack:workspace-member
}

template "Engineering Tools Reader" {
  grant gitlab:group:engineering-docs (reporter)
}
"#;

const SALES_TEXT: &str = r#"policy "Sales Engineer Access" {
  when job_title == "Sales Engineer"
  inherits "Base Employee Access", "Engineering Tools Reader"
  grant gitlab:group:customer-solutions (reporter)
}

test "se" {
  given { user_id: "t", employment_status: "Active", job_title: "Sales Engineer" }
  expect policies ["Base Employee Access", "Sales Engineer Access"]
}
"#;

impl Client {
    async fn new() -> Client {
        Client::initialized(json!({"capabilities": {}})).await
    }

    /// A server initialized with these `initialize` parameters.
    async fn initialized(params: Value) -> Client {
        let (service, socket) =
            LspService::new(|client| Backend::new(client, Arc::new(Host::new())));
        let mut c = Client {
            service,
            socket,
            id: 0,
        };
        c.request("initialize", params).await;
        c.notify("initialized", json!({})).await;
        c
    }

    async fn call(&mut self, req: Request) -> Option<Value> {
        futures::future::poll_fn(|cx| self.service.poll_ready(cx))
            .await
            .unwrap();
        let resp = self.service.call(req).await.unwrap()?;
        let v = serde_json::to_value(resp).unwrap();
        Some(v)
    }

    async fn request(&mut self, method: &'static str, params: Value) -> Value {
        self.id += 1;
        let req = Request::build(method).params(params).id(self.id).finish();
        let v = self.call(req).await.expect("a response");
        if let Some(e) = v.get("error") {
            return json!({"error": e});
        }
        v["result"].clone()
    }

    async fn notify(&mut self, method: &'static str, params: Value) {
        let req = Request::build(method).params(params).finish();
        assert!(self.call(req).await.is_none());
    }

    async fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "pol", "version": 1, "text": text}}),
        )
        .await;
    }

    async fn change(&mut self, uri: &str, version: i64, text: &str) {
        self.notify("textDocument/didChange", json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]})).await;
    }

    /// The next diagnostics published for `uri`.
    async fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
                .await
                .expect("diagnostics in time")
                .expect("socket open");
            let v = serde_json::to_value(&msg).unwrap();
            if v["method"] == "textDocument/publishDiagnostics" && v["params"]["uri"] == uri {
                return v["params"]["diagnostics"].as_array().unwrap().clone();
            }
        }
    }

    async fn workspace(&mut self) {
        self.open(BASE, BASE_TEXT).await;
        self.open(SALES, SALES_TEXT).await;
    }
}

/// The text without `$0`, and the cursor's LSP position.
fn cursor(fixture: &str) -> (String, Value) {
    let at = fixture.find("$0").expect("a $0 cursor");
    let before = &fixture[..at];
    let line = before.matches('\n').count();
    let col = before.rsplit('\n').next().unwrap().encode_utf16().count();
    (
        fixture.replacen("$0", "", 1),
        json!({"line": line, "character": col}),
    )
}

fn pos(uri: &str, p: &Value) -> Value {
    json!({"textDocument": {"uri": uri}, "position": p})
}

#[tokio::test]
async fn diagnostics_on_open_and_change() {
    let mut c = Client::new().await;
    c.open(
        SALES,
        "policy \"A\" {\n  when job_titel == \"x\"\n  inherits \"Nope\"\n}\n",
    )
    .await;
    let d = c.diagnostics(SALES).await;
    let codes: Vec<&str> = d.iter().map(|d| d["code"].as_str().unwrap()).collect();
    // no schema yet: untyped, so no E0201; the unknown policy is reported
    assert!(codes.contains(&"E0101"), "{d:?}");
    c.change(
        SALES,
        2,
        "import \"std/hris\"\npolicy \"A\" {\n  when job_titel == \"x\"\n}\n",
    )
    .await;
    let d = c.diagnostics(SALES).await;
    let e = d
        .iter()
        .find(|d| d["code"] == "E0201")
        .expect("E0201 after the edit");
    assert_eq!(e["range"]["start"], json!({"line": 2, "character": 7}));
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("did you mean `job_title`?"));
    c.change(
        SALES,
        3,
        "import \"std/hris\"\npolicy \"A\" {\n  when job_title == \"x\"\n}\n",
    )
    .await;
    assert!(c.diagnostics(SALES).await.is_empty());
}

/// The seed's policies folder, its `sales.pol` and their `file://` URIs.
fn seed_sales() -> (std::path::PathBuf, String, String) {
    let dir = std::path::Path::new(root!())
        .join("examples/seed/policies")
        .canonicalize()
        .unwrap();
    let folder = polc_ide::file_uri(&dir);
    let sales = polc_ide::file_uri(&dir.join("sales.pol"));
    (dir, folder, sales)
}

/// The seed's `sales.pol`, opened as an editor opens it, has no errors: the server knows
/// the rest of its bundle (`Base Employee Access`, the schema, …).
async fn opened_seed_sales_has_no_errors(mut c: Client) {
    let (dir, _, sales) = seed_sales();
    c.open(
        &sales,
        &std::fs::read_to_string(dir.join("sales.pol")).unwrap(),
    )
    .await;
    let d = c.diagnostics(&sales).await;
    let errors: Vec<&Value> = d.iter().filter(|d| d["severity"] == 1).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // and the rest of the bundle is there: definition of an inherited policy in base.pol
    let (_, p) = cursor(&format!(
        "{}  inherits \"Base Emp$0",
        std::fs::read_to_string(dir.join("sales.pol"))
            .unwrap()
            .split("  inherits \"Base Emp")
            .next()
            .unwrap()
    ));
    let def = c.request("textDocument/definition", pos(&sales, &p)).await;
    let target = def
        .as_array()
        .and_then(|a| a.first())
        .map(|l| l["uri"].clone())
        .unwrap_or(def["uri"].clone());
    assert!(target.as_str().unwrap().ends_with("/base.pol"), "{def}");
}

#[tokio::test]
async fn workspace_folders_are_read_on_initialize() {
    let (_, folder, _) = seed_sales();
    let c = Client::initialized(json!({"capabilities": {},
        "workspaceFolders": [{"uri": folder, "name": "seed"}]}))
    .await;
    opened_seed_sales_has_no_errors(c).await;
}

#[tokio::test]
async fn a_root_uri_alone_is_the_workspace() {
    let (_, folder, _) = seed_sales();
    let c = Client::initialized(json!({"capabilities": {}, "rootUri": folder})).await;
    opened_seed_sales_has_no_errors(c).await;
}

#[tokio::test]
async fn a_root_path_alone_is_the_workspace() {
    let (dir, _, _) = seed_sales();
    let c = Client::initialized(json!({"capabilities": {}, "rootUri": null,
        "rootPath": dir.to_str().unwrap()}))
    .await;
    opened_seed_sales_has_no_errors(c).await;
}

#[tokio::test]
async fn a_file_opened_with_no_root_brings_its_bundle() {
    let c = Client::initialized(json!({"capabilities": {}, "rootUri": null})).await;
    opened_seed_sales_has_no_errors(c).await;
}

#[tokio::test]
async fn hover_definition_references_rename() {
    let mut c = Client::new().await;
    c.workspace().await;
    let (_, p) = cursor("policy \"Sales Engineer Access\" {\n  when job_title == \"Sales Engineer\"\n  inherits \"Base Emp$0loyee Access\"");
    let hover = c.request("textDocument/hover", pos(SALES, &p)).await;
    insta::assert_snapshot!(
        "lsp_hover_policy",
        hover["contents"]["value"].as_str().unwrap()
    );
    let (_, p) = cursor("policy \"Sales Engineer Access\" {\n  when job_t$0itle");
    let hover = c.request("textDocument/hover", pos(SALES, &p)).await;
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("`string` (optional)"),
        "{hover}"
    );
    let (_, p) = cursor("policy \"Sales Engineer Access\" {\n  when job_title == \"Sales Engineer\"\n  inherits \"Base Employee Access\", \"Engineering Tools Reader\"\n  grant gitlab:group:customer-solutions (rep$0orter)");
    let hover = c.request("textDocument/hover", pos(SALES, &p)).await;
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("guest < reporter < developer < maintainer < owner"),
        "{hover}"
    );

    // definition: inherits → the policy in the other file
    let (_, p) = cursor("policy \"Sales Engineer Access\" {\n  when job_title == \"Sales Engineer\"\n  inherits \"Base Emp$0loyee Access\"");
    let def = c.request("textDocument/definition", pos(SALES, &p)).await;
    assert_eq!(def[0]["uri"], BASE);
    assert_eq!(def[0]["range"]["start"], json!({"line": 4, "character": 7}));
    // definition: a grant's system → std/saas, opened read-only from disk
    let (_, p) = cursor("policy \"Sales Engineer Access\" {\n  when job_title == \"Sales Engineer\"\n  inherits \"Base Employee Access\", \"Engineering Tools Reader\"\n  grant git$0lab");
    let def = c.request("textDocument/definition", pos(SALES, &p)).await;
    assert!(
        def[0]["uri"].as_str().unwrap().ends_with("/saas.pol"),
        "{def}"
    );

    // references from the declaration: the declaration, inherits, expect policies
    let (_, p) = cursor(
        "import \"std/hris\"\nimport \"std/saas\"\n\n/// Everyone gets this.\npolicy \"Base $0",
    );
    let refs = c.request("textDocument/references", json!({"textDocument": {"uri": BASE}, "position": p, "context": {"includeDeclaration": true}})).await;
    assert_eq!(refs.as_array().unwrap().len(), 3, "{refs}");

    // rename across files
    let edit = c
        .request(
            "textDocument/rename",
            json!({"textDocument": {"uri": BASE}, "position": p, "newName": "Everyone"}),
        )
        .await;
    let changes = edit["changes"].as_object().unwrap();
    assert_eq!(changes[BASE].as_array().unwrap().len(), 1);
    assert_eq!(changes[SALES].as_array().unwrap().len(), 2);
    assert_eq!(changes[SALES][0]["newText"], "\"Everyone\"");
    // renaming to an existing name is refused
    let bad = c.request("textDocument/rename", json!({"textDocument": {"uri": BASE}, "position": p, "newName": "Sales Engineer Access"})).await;
    assert!(bad.get("error").is_some(), "{bad}");
}

#[tokio::test]
async fn completion_in_context() {
    let mut c = Client::new().await;
    c.workspace().await;
    let check = |items: &Value| -> Vec<String> {
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["label"].as_str().unwrap().to_string())
            .collect()
    };
    let cases = [
        (
            "inherits",
            "policy \"X\" {\n  when department == \"a\"\n  inherits \"$0\n}\n",
            "Engineering Tools Reader",
        ),
        (
            "systems",
            "policy \"X\" {\n  when department == \"a\"\n  grant $0\n}\n",
            "gitlab",
        ),
        (
            "types",
            "policy \"X\" {\n  when department == \"a\"\n  grant gitlab:$0\n}\n",
            "project",
        ),
        (
            "levels",
            "policy \"X\" {\n  when department == \"a\"\n  grant gitlab:group:web ($0\n}\n",
            "maintainer",
        ),
        ("attributes", "policy \"X\" {\n  when $0\n}\n", "department"),
        (
            "enum values",
            "policy \"X\" {\n  when employment_type == \"$0\n}\n",
            "Contractor",
        ),
        ("clause keywords", "policy \"X\" {\n  $0\n}\n", "inherits"),
        ("item keywords", "$0\n", "template"),
        // one-line policies, continuation lines, braces in strings and comments
        (
            "enum values on a one-line policy",
            "policy \"X\" { when employment_type == \"$0",
            "Contractor",
        ),
        (
            "enum values in a list",
            "policy \"X\" { when employment_type in [\"Employee\", \"$0",
            "Contractor",
        ),
        (
            "attributes on a continuation line",
            "policy \"X\" {\n  when department == \"a\"\n    and $0\n}\n",
            "job_title",
        ),
        (
            "a new clause after a complete condition",
            "policy \"X\" {\n  when department == \"a\"\n  $0\n}\n",
            "grant",
        ),
        (
            "clause keywords after a grant",
            "policy \"X\" {\n  grant gitlab:group:web (reporter)\n  $0\n}\n",
            "inherits",
        ),
        (
            "braces inside strings and comments",
            "policy \"X {\" {\n  description \"a } b\" // {\n  $0\n}\n",
            "inherits",
        ),
        (
            "policy names after a comma",
            "policy \"X\" {\n  inherits \"Engineering Tools Reader\", \"$0\n}\n",
            "Engineering Tools Reader",
        ),
        (
            "systems in a conflict",
            "conflict \"SoD\" { salesforce:*, $0 }\n",
            "gitlab",
        ),
        (
            "systems after expect no grant",
            "test \"t\" {\n  expect no grant $0\n}\n",
            "gitlab",
        ),
        (
            "attributes in a test's record",
            "test \"t\" {\n  given { user_id: \"u\", $0 }\n}\n",
            "department",
        ),
        (
            "enum values in a test's record",
            "test \"t\" {\n  given { employment_type: \"$0 }\n}\n",
            "Contractor",
        ),
        // "": nothing to offer
        ("inside a comment", "policy \"X\" {\n  // when $0\n}\n", ""),
        (
            "inside a description",
            "policy \"X\" {\n  description \"grant $0\n}\n",
            "",
        ),
    ];
    let uri = "file:///ws/new.pol";
    let mut version = 1;
    c.open(uri, "").await;
    for (what, fixture, expected) in cases {
        let (text, p) = cursor(fixture);
        version += 1;
        c.change(
            uri,
            version,
            &format!("import \"std/hris\"\nimport \"std/saas\"\n{text}"),
        )
        .await;
        let p = json!({"line": p["line"].as_u64().unwrap() + 2, "character": p["character"]});
        let items = c.request("textDocument/completion", pos(uri, &p)).await;
        let labels = if items.is_null() {
            vec![]
        } else {
            check(&items)
        };
        if expected.is_empty() {
            assert!(labels.is_empty(), "{what}: {labels:?}");
        } else {
            assert!(labels.iter().any(|l| l == expected), "{what}: {labels:?}");
        }
    }
}

#[tokio::test]
async fn formatting_symbols_actions_tokens() {
    let mut c = Client::new().await;
    let messy = "import \"std/hris\"\nimport \"std/saas\"\npolicy   \"A\"{when department==\"x\"  grant zoom:account}\n";
    c.open(SALES, messy).await;
    let edits = c.request("textDocument/formatting", json!({"textDocument": {"uri": SALES}, "options": {"tabSize": 2, "insertSpaces": true}})).await;
    assert_eq!(edits[0]["newText"], "import \"std/hris\"\nimport \"std/saas\"\n\npolicy \"A\" {\n  when department == \"x\"\n  grant zoom:account\n}\n");

    c.change(SALES, 2, SALES_TEXT).await;
    c.open(BASE, BASE_TEXT).await;
    let syms = c
        .request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": SALES}}),
        )
        .await;
    let names: Vec<&str> = syms
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Sales Engineer Access", "se"]);
    let ws = c
        .request("workspace/symbol", json!({"query": "engineer"}))
        .await;
    assert_eq!(ws.as_array().unwrap().len(), 2, "{ws}");

    // a misspelt attribute: the quick fix applies "did you mean"
    c.change(
        SALES,
        3,
        &SALES_TEXT.replace("when job_title", "when job_titel"),
    )
    .await;
    let actions = c.request("textDocument/codeAction", json!({"textDocument": {"uri": SALES}, "range": {"start": {"line": 1, "character": 8}, "end": {"line": 1, "character": 8}}, "context": {"diagnostics": []}})).await;
    let a = &actions[0];
    assert_eq!(a["title"], "Replace with job_title");
    assert_eq!(a["edit"]["changes"][SALES][0]["newText"], "job_title");

    let toks = c
        .request(
            "textDocument/semanticTokens/full",
            json!({"textDocument": {"uri": SALES}}),
        )
        .await;
    assert!(toks["data"].as_array().unwrap().len() > 20);
}

#[tokio::test]
async fn code_lens_counts_people_from_the_users_file() {
    let mut c = Client::new().await;
    let users = concat!(root!(), "/examples/seed/users.json");
    c.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"pol": {"usersFile": users}}}),
    )
    .await;
    c.workspace().await;
    let lenses = c
        .request(
            "textDocument/codeLens",
            json!({"textDocument": {"uri": BASE}}),
        )
        .await;
    let titles: Vec<&str> = lenses
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["command"]["title"].as_str().unwrap())
        .collect();
    // four active people in the seed's users file
    assert_eq!(titles, vec!["applies to 4 of 5 people"]);

    // The counts follow an edit of the policy (they are cached per bundle).
    c.change(
        BASE,
        2,
        &BASE_TEXT.replace(
            "when employment_status == \"Active\"",
            "when employment_status == \"Active\" and department == \"Sales\"",
        ),
    )
    .await;
    let lenses = c
        .request(
            "textDocument/codeLens",
            json!({"textDocument": {"uri": BASE}}),
        )
        .await;
    assert_eq!(
        lenses[0]["command"]["title"], "applies to 3 of 5 people",
        "{lenses}"
    );
}

#[tokio::test]
async fn every_prefix_of_every_seed_file_gets_diagnostics_without_a_crash() {
    let mut c = Client::new().await;
    let dir = std::path::Path::new(root!()).join("examples/seed/policies");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for (i, f) in files.iter().enumerate() {
        let text = std::fs::read_to_string(f).unwrap();
        let uri = format!("file:///seed/{i}.pol");
        c.open(&uri, "").await;
        let mut version = 1;
        // every prefix, each one a document version
        let cuts: Vec<usize> = (0..=text.len())
            .filter(|&k| text.is_char_boundary(k))
            .collect();
        for k in cuts {
            version += 1;
            c.change(&uri, version, &text[..k]).await;
            // ask something at the cut: never an error other than "content modified"
            let p = {
                let before = &text[..k];
                json!({"line": before.matches('\n').count(), "character": before.rsplit('\n').next().unwrap().encode_utf16().count()})
            };
            for method in [
                "textDocument/hover",
                "textDocument/completion",
                "textDocument/definition",
            ] {
                let r = c.request(method, pos(&uri, &p)).await;
                if let Some(e) = r.get("error") {
                    assert_eq!(e["code"], -32801, "{method} at {k} of {}: {e}", f.display());
                }
            }
        }
        let d = c.diagnostics(&uri).await;
        let _ = d;
    }
}
