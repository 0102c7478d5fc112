//! The fixture server of the official MCP conformance suite
//! (`@modelcontextprotocol/conformance`), behind the full tower-bearer stack.
//!
//! ```text
//! cargo run --example conformance_server             # with the auth layers
//! cargo run --example conformance_server -- --no-auth
//! ```
//!
//! It serves the tools, prompts and `test://` resources the suite's server
//! scenarios call, with rmcp's streamable HTTP transport (both the 2025-11-25
//! session lifecycle and the stateless 2026-07-28 one on one endpoint). With
//! the auth layers an embedded development issuer is started, and the server
//! prints a token holding every scope the policy can ask for
//! (`export TB_TOKEN=…`), which the suite's requests carry
//! (`tests/interop/conformance/bearer.cjs`). `tests/interop_conformance.rs`
//! runs the suite both ways and requires every check that passes without the
//! auth layers to pass with them.

// The 2025-11-25 scenarios set the log level, receive log messages, ask the
// client for sampling and subscribe to resources: features rmcp marks
// deprecated (SEP-2577, SEP-2575).
#![expect(
    deprecated,
    reason = "the suite's 2025-11-25 scenarios use logging, sampling and resource subscriptions"
)]

mod mrtr;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use clap::Parser;
use rmcp::model::{
    AudioContent, CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams,
    CompleteResult, CompletionInfo, ContentBlock, CreateMessageRequestParams, ElicitRequestParams,
    ElicitationSchema, GetPromptRequestParams, GetPromptResponse, GetPromptResult, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, LoggingLevel,
    LoggingMessageNotificationParam, PaginatedRequestParams, ProgressNotificationParam, Prompt,
    PromptArgument, PromptMessage, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    Reference, Resource as McpResource, ResourceContents, ResourceTemplate, Role, SamplingMessage,
    ServerCapabilities, ServerConfig, SetLevelRequestParams, SubscribeRequestParams, Tool,
    UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{ErrorData, ServerHandler};
use serde_json::{Value, json};
use tower::Layer;
use tower_bearer::jwt::Algorithm;
use tower_bearer::mcp::{McpAuthLayer, McpScopePolicy};
use tower_bearer::mcp::{StateKey, StateRequest, StateSealer};
use tower_bearer::scope::{ScopeError, ScopeHierarchy};
use tower_bearer::{AccessToken, Principal, Resource};
use tower_bearer_issuer::DevIssuer;

/// The conformance suite's fixture server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Serve without the token, session and scope layers (the `Origin` check
    /// stays): the baseline the suite's results with auth are compared with.
    #[arg(long)]
    no_auth: bool,
}

/// A 1×1 PNG.
const PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==";
/// A WAV file of no samples.
const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEARKwAAIhYAQACABAAZGF0YQAAAAA=";
const STATIC_TEXT: &str = "test://static-text";
const STATIC_BINARY: &str = "test://static-binary";

/// The tools the suite calls, and the string argument each requires, if any.
const TOOLS: [(&str, &str, Option<&str>); 13] = [
    ("test_simple_text", "Returns simple text content", None),
    ("test_image_content", "Returns image content", None),
    ("test_audio_content", "Returns audio content", None),
    (
        "test_embedded_resource",
        "Returns embedded resource content",
        None,
    ),
    (
        "test_multiple_content_types",
        "Returns text, image and resource content",
        None,
    ),
    (
        "test_tool_with_logging",
        "Sends logging notifications while it runs",
        None,
    ),
    ("test_error_handling", "Always returns a tool error", None),
    ("test_tool_with_progress", "Reports progress notifications", None),
    (
        "test_sampling",
        "Asks the client for an LLM completion of the prompt",
        Some("prompt"),
    ),
    (
        "test_elicitation",
        "Asks the user for a username and an email",
        Some("message"),
    ),
    (
        "test_elicitation_sep1034_defaults",
        "Asks the user, every field with a default (SEP-1034)",
        None,
    ),
    (
        "json_schema_2020_12_tool",
        "Tool with JSON Schema 2020-12 features",
        None,
    ),
    (
        "test_elicitation_sep1330_enums",
        "Asks the user to choose, in the five enum forms (SEP-1330)",
        None,
    ),
];

/// A tool's input schema: an object of its string argument, if any; the
/// suite's JSON Schema 2020-12 one for `json_schema_2020_12_tool` (SEP-1613,
/// SEP-2106: every keyword kept as written).
fn input_schema(tool: &str, argument: Option<&str>) -> Value {
    match (tool, argument) {
        ("json_schema_2020_12_tool", _) => json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {"address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}}
            }},
            "properties": {
                "name": {"type": "string"},
                "address": {"$ref": "#/$defs/address"},
                "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                "phone": {"type": "string"},
                "email": {"type": "string"}
            },
            "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
            "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
            "then": {"required": ["phone"]},
            "else": {"required": ["email"]},
            "additionalProperties": false
        }),
        (_, Some(argument)) => json!({
            "type": "object",
            "properties": {argument: {"type": "string"}},
            "required": [argument]
        }),
        (_, None) => json!({"type": "object", "properties": {}}),
    }
}

/// `elicitation/create` schemas of the elicitation tools.
fn elicitation_schema(tool: &str) -> Value {
    let titled = |titles: [&str; 3]| {
        let values = ["value1", "value2", "value3"];
        Value::from_iter(
            values
                .iter()
                .zip(titles)
                .map(|(v, t)| json!({"const": v, "title": t})),
        )
    };
    match tool {
        "test_elicitation" => json!({
            "type": "object",
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"}
            },
            "required": ["username", "email"]
        }),
        "test_elicitation_sep1034_defaults" => json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "User's name", "default": "John Doe"},
                "age": {"type": "integer", "description": "User's age", "default": 30},
                "score": {"type": "number", "description": "User's score", "default": 95.5},
                "status": {
                    "type": "string", "description": "User's status",
                    "enum": ["active", "inactive", "pending"], "default": "active"
                },
                "verified": {"type": "boolean", "description": "Whether the user is verified", "default": true}
            }
        }),
        _ => json!({
            "type": "object",
            "properties": {
                "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                "titledSingle": {"type": "string", "oneOf": titled(["First Option", "Second Option", "Third Option"])},
                "legacyEnum": {
                    "type": "string", "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"]
                },
                "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                "titledMulti": {"type": "array", "items": {"anyOf": titled(["First Choice", "Second Choice", "Third Choice"])}}
            }
        }),
    }
}

/// Which scopes the fixtures need: every request `mcp:read`; the tools that
/// notify the client while they run `mcp:write` (so that the suite's token
/// goes through a per-tool decision as well as the base one).
fn scope_policy() -> Result<McpScopePolicy, ScopeError> {
    McpScopePolicy::new()
        .hierarchy(ScopeHierarchy::chain(["mcp:write", "mcp:read"])?)
        .base(["mcp:read"])?
        .tool("test_tool_with_logging", ["mcp:write"])?
        .tool("test_tool_with_progress", ["mcp:write"])
}

/// The fixtures. The log level and subscriptions the suite sets are
/// acknowledged, not kept; the multi round-trip ones seal their state.
#[derive(Clone, Debug)]
struct Fixtures {
    sealer: StateSealer,
}

/// Who calls: the verified token's principal, or, without the auth layers,
/// one "anonymous" principal for every caller.
fn caller(context: &RequestContext<RoleServer>) -> Principal {
    let token = context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<AccessToken>());
    match token {
        Some(token) => token.principal().clone(),
        None => Principal::new().with_subject("anonymous"),
    }
}

fn text_resource(uri: &str, mime_type: &str, text: impl Into<String>) -> ResourceContents {
    ResourceContents::TextResourceContents {
        uri: uri.into(),
        mime_type: Some(mime_type.into()),
        text: text.into(),
        meta: None,
    }
}

/// The `{id}` of `test://template/{id}/data`.
fn template_id(uri: &str) -> Option<&str> {
    uri.strip_prefix("test://template/")?.strip_suffix("/data")
}

/// Log messages and progress steps are this far apart.
const STEP: Duration = Duration::from_millis(50);

impl Fixtures {
    /// `sampling/createMessage` to the client, for `prompt`.
    async fn sampling(&self, prompt: &str, context: &RequestContext<RoleServer>) -> CallToolResult {
        let request = CreateMessageRequestParams::new(vec![SamplingMessage::user_text(prompt)], 100);
        match context.peer.create_message(request).await {
            Ok(answer) => {
                let text = answer
                    .message
                    .content
                    .first()
                    .and_then(|c| c.as_text())
                    .map(|t| t.text.clone());
                CallToolResult::success(vec![ContentBlock::text(format!(
                    "LLM response: {}",
                    text.unwrap_or_default()
                ))])
            }
            Err(e) => CallToolResult::error(vec![ContentBlock::text(format!("Sampling error: {e}"))]),
        }
    }

    /// `elicitation/create` to the client with the tool's schema.
    async fn elicitation(
        &self,
        tool: &str,
        message: &str,
        context: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let schema = match serde_json::from_value::<ElicitationSchema>(elicitation_schema(tool)) {
            Ok(schema) => schema,
            Err(e) => return CallToolResult::error(vec![ContentBlock::text(format!("schema: {e}"))]),
        };
        let request = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: message.to_owned(),
            requested_schema: schema,
        };
        match context.peer.create_elicitation(request).await {
            Ok(answer) => CallToolResult::success(vec![ContentBlock::text(format!(
                "Elicitation completed: action={}, content={}",
                json!(answer.action),
                json!(answer.content)
            ))]),
            Err(e) => CallToolResult::error(vec![ContentBlock::text(format!("Elicitation error: {e}"))]),
        }
    }

    async fn logging(&self, context: &RequestContext<RoleServer>) -> CallToolResult {
        for message in [
            "Tool execution started",
            "Tool processing data",
            "Tool execution completed",
        ] {
            let notification = LoggingMessageNotificationParam::new(LoggingLevel::Info, json!(message))
                .with_logger("conformance");
            // A client that went away gets no more notifications; the tool still answers.
            let _ = context.peer.notify_logging_message(notification).await;
            tokio::time::sleep(STEP).await;
        }
        CallToolResult::success(vec![ContentBlock::text("Logging test completed")])
    }

    async fn progress(&self, context: &RequestContext<RoleServer>) -> CallToolResult {
        let token = context.meta.get_progress_token();
        for (progress, message) in [(0.0, "Starting"), (50.0, "Halfway"), (100.0, "Complete")] {
            if let Some(token) = &token {
                let notification = ProgressNotificationParam::new(token.clone(), progress)
                    .with_total(100.0)
                    .with_message(message);
                let _ = context.peer.notify_progress(notification).await;
            }
            tokio::time::sleep(STEP).await;
        }
        CallToolResult::success(vec![ContentBlock::text("Progress test completed")])
    }
}

impl ServerHandler for Fixtures {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_logging()
                .enable_completions()
                .build(),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = TOOLS.iter().map(|(name, description, argument)| {
            let Value::Object(schema) = input_schema(name, *argument) else {
                unreachable!("a JSON object literal")
            };
            Tool::new(*name, *description, Arc::new(schema))
        });
        let round_trips = mrtr::TOOLS.iter().map(|name| {
            let Value::Object(schema) = input_schema(name, None) else {
                unreachable!("a JSON object literal")
            };
            Tool::new(*name, "Asks for input first (SEP-2322)", Arc::new(schema))
        });
        Ok(ListToolsResult::with_all_items(
            tools.chain(round_trips).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let argument = |name: &str| {
            let arguments = request.arguments.as_ref();
            arguments
                .and_then(|a| a.get(name))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let result = match request.name.as_ref() {
            "test_simple_text" => CallToolResult::success(vec![ContentBlock::text(
                "This is a simple text response for testing.",
            )]),
            "test_image_content" => CallToolResult::success(vec![ContentBlock::image(PNG, "image/png")]),
            "test_audio_content" => {
                CallToolResult::success(vec![ContentBlock::Audio(AudioContent::new(WAV, "audio/wav"))])
            }
            "test_embedded_resource" => CallToolResult::success(vec![ContentBlock::resource(text_resource(
                "test://embedded-resource",
                "text/plain",
                "This is an embedded resource content.",
            ))]),
            "test_multiple_content_types" => CallToolResult::success(vec![
                ContentBlock::text("Multiple content types test:"),
                ContentBlock::image(PNG, "image/png"),
                ContentBlock::resource(text_resource(
                    "test://mixed-content-resource",
                    "application/json",
                    r#"{"test":"data","value":123}"#,
                )),
            ]),
            "test_tool_with_logging" => self.logging(&context).await,
            "test_error_handling" => CallToolResult::error(vec![ContentBlock::text(
                "This tool intentionally returns an error for testing",
            )]),
            "test_tool_with_progress" => self.progress(&context).await,
            "test_sampling" => self.sampling(&argument("prompt"), &context).await,
            "json_schema_2020_12_tool" => {
                CallToolResult::success(vec![ContentBlock::text(format!("Hello, {}!", argument("name")))])
            }
            "test_elicitation" => {
                self.elicitation("test_elicitation", &argument("message"), &context)
                    .await
            }
            tool @ ("test_elicitation_sep1034_defaults" | "test_elicitation_sep1330_enums") => {
                self.elicitation(tool, "Please provide values", &context).await
            }
            fixture if mrtr::TOOLS.contains(&fixture) => {
                let call = mrtr::Call {
                    fixture,
                    request: StateRequest::tool(fixture),
                    principal: &caller(&context),
                    capabilities: context.meta.client_capabilities(),
                    responses: request.input_responses.as_ref(),
                    state: request.request_state.as_deref(),
                };
                return Ok(match call.run(&self.sealer).await? {
                    mrtr::Outcome::InputRequired(input) => input.into(),
                    mrtr::Outcome::Complete(text) => {
                        CallToolResult::success(vec![ContentBlock::text(text)]).into()
                    }
                });
            }
            other => {
                return Err(ErrorData::invalid_params(format!("Unknown tool: {other}"), None));
            }
        };
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![
            McpResource::new(STATIC_TEXT, "Static Text Resource")
                .with_description("A static text resource for testing")
                .with_mime_type("text/plain"),
            McpResource::new(STATIC_BINARY, "Static Binary Resource")
                .with_description("A static binary resource for testing")
                .with_mime_type("image/png"),
        ]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("test://template/{id}/data", "Dynamic Resource")
                .with_description("A resource whose content names its id")
                .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri.as_str();
        let contents = match uri {
            STATIC_TEXT => text_resource(
                uri,
                "text/plain",
                "This is the content of the static text resource.",
            ),
            STATIC_BINARY => ResourceContents::BlobResourceContents {
                uri: uri.into(),
                mime_type: Some("image/png".into()),
                blob: PNG.into(),
                meta: None,
            },
            _ => match template_id(uri) {
                Some(id) => text_resource(
                    uri,
                    "application/json",
                    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")}).to_string(),
                ),
                None => {
                    return Err(ErrorData::resource_not_found(
                        format!("Resource not found: {uri}"),
                        Some(json!({ "uri": uri })),
                    ));
                }
            },
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    async fn subscribe(
        &self,
        _request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }

    async fn unsubscribe(
        &self,
        _request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let arguments = vec![
            PromptArgument::new("arg1")
                .with_description("First test argument")
                .with_required(true),
            PromptArgument::new("arg2")
                .with_description("Second test argument")
                .with_required(false),
        ];
        Ok(ListPromptsResult::with_all_items(vec![
            Prompt::new(
                "test_simple_prompt",
                Some("A simple test prompt with no arguments"),
                None,
            ),
            Prompt::new(
                "test_prompt_with_arguments",
                Some("A test prompt that accepts arguments"),
                Some(arguments),
            ),
            Prompt::new(
                "test_prompt_with_embedded_resource",
                Some("A test prompt that includes an embedded resource"),
                None,
            ),
            Prompt::new(
                mrtr::PROMPT,
                Some("A prompt that asks for its context first (SEP-2322)"),
                None,
            ),
            Prompt::new(
                "test_prompt_with_image",
                Some("A test prompt that includes an image"),
                None,
            ),
        ]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let user = |text: &str| PromptMessage::new_text(Role::User, text);
        let messages = match request.name.as_str() {
            mrtr::PROMPT => {
                let call = mrtr::Call {
                    fixture: mrtr::PROMPT,
                    request: StateRequest::new("prompts/get").named(mrtr::PROMPT),
                    principal: &caller(&context),
                    capabilities: context.meta.client_capabilities(),
                    responses: request.input_responses.as_ref(),
                    state: request.request_state.as_deref(),
                };
                match call.run(&self.sealer).await? {
                    mrtr::Outcome::InputRequired(input) => return Ok(input.into()),
                    mrtr::Outcome::Complete(text) => vec![user(&text)],
                }
            }
            "test_simple_prompt" => vec![user("This is a simple test prompt.")],
            "test_prompt_with_arguments" => {
                let arguments = request.arguments.unwrap_or_default();
                let argument = |name: &str| {
                    arguments
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                vec![user(&format!(
                    "Prompt with arguments: arg1='{}', arg2='{}'",
                    argument("arg1"),
                    argument("arg2")
                ))]
            }
            "test_prompt_with_embedded_resource" => vec![
                user("Here is a resource:"),
                PromptMessage::new_resource(
                    Role::User,
                    STATIC_TEXT.into(),
                    Some("text/plain".into()),
                    Some("Resource content for prompt".into()),
                    None,
                    None,
                    None,
                ),
            ],
            "test_prompt_with_image" => vec![
                user("Here is an image:"),
                PromptMessage::new(Role::User, ContentBlock::image(PNG, "image/png")),
            ],
            other => {
                return Err(ErrorData::invalid_params(
                    format!("Unknown prompt: {other}"),
                    None,
                ));
            }
        };
        Ok(GetPromptResult::new(messages).into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let values = match &request.r#ref {
            Reference::Prompt(prompt) => vec![prompt.name.clone()],
            _ => Vec::new(),
        };
        let completion = CompletionInfo::new(values).map_err(|e| ErrorData::internal_error(e, None))?;
        Ok(CompleteResult::new(completion))
    }

    async fn set_level(
        &self,
        _request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let audience = format!("{base}/mcp");
    let sealer = StateSealer::new(StateKey::generate("conformance")?);
    let mcp = StreamableHttpService::new(
        move || {
            Ok(Fixtures {
                sealer: sealer.clone(),
            })
        },
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );

    let policy = scope_policy()?;
    // An EdDSA key: generated at once.
    let issuer = DevIssuer::builder().algorithm(Algorithm::EdDSA).start().await?;
    let resource = Resource::builder(&audience)
        .authorization_server(issuer.issuer())
        .scopes_supported(policy.demandable().iter())
        .build()?;
    let auth = McpAuthLayer::builder(&resource, issuer.jwt_verifier(&audience))
        .scope_policy(policy.clone())
        .build()?;
    let mut app = if args.no_auth {
        Router::new().route_service("/mcp", auth.origin_layer().layer(mcp))
    } else {
        Router::new().route_service("/mcp", auth.layer(mcp))
    };
    for path in resource.well_known_paths() {
        app = app.route_service(&path, resource.metadata_service());
    }

    println!("conformance server: MCP server at {audience}");
    if !args.no_auth {
        let scopes = policy.demandable().to_string();
        println!("  authorization server: {}", issuer.issuer());
        println!(
            "export TB_TOKEN={}",
            issuer.token("conformance", issuer.client_id(), &scopes, &audience)
        );
    }
    println!("ready");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
