//! The suite's multi round-trip fixtures (SEP-2322, MCP 2026-07-28): tools and
//! a prompt that answer `input_required` with the inputs they need, then
//! complete once the client retries with them. Those that keep state between
//! rounds seal it with tower-bearer's [`StateSealer`], bound to the caller and
//! the request, single use: a tampered or replayed state is refused (-32602).

use rmcp::ErrorData;
use rmcp::model::{ClientCapabilities, InputRequests, InputRequiredResult, InputResponses};
use serde_json::{Value, json};
use tower_bearer::Principal;
use tower_bearer::mcp::{StateError, StateRequest, StateSealer};

/// The prompt among the fixtures (the others are tools).
pub(crate) const PROMPT: &str = "test_input_required_result_prompt";

/// The fixture tools.
pub(crate) const TOOLS: [&str; 8] = [
    "test_input_required_result_elicitation",
    "test_input_required_result_sampling",
    "test_input_required_result_list_roots",
    "test_input_required_result_request_state",
    "test_input_required_result_multiple_inputs",
    "test_input_required_result_multi_round",
    "test_input_required_result_tampered_state",
    "test_input_required_result_capabilities",
];

/// The inputs `fixture` needs in `round` (from 1).
fn inputs(fixture: &str, round: u8) -> &'static [&'static str] {
    match (fixture, round) {
        ("test_input_required_result_elicitation", _) => &["user_name"],
        ("test_input_required_result_sampling", _) => &["capital_question"],
        ("test_input_required_result_list_roots", _) => &["client_roots"],
        ("test_input_required_result_request_state" | "test_input_required_result_tampered_state", _) => {
            &["confirm"]
        }
        ("test_input_required_result_multiple_inputs", _) => &["user_name", "greeting", "client_roots"],
        ("test_input_required_result_multi_round", 1) => &["step1"],
        ("test_input_required_result_multi_round", _) => &["step2"],
        ("test_input_required_result_capabilities", _) => &["user_name", "capital_question"],
        _ => &["user_context"],
    }
}

/// How many rounds of inputs `fixture` asks for.
fn rounds(fixture: &str) -> u8 {
    if fixture == "test_input_required_result_multi_round" {
        2
    } else {
        1
    }
}

/// Whether `fixture` carries a sealed `requestState` between rounds.
fn keeps_state(fixture: &str) -> bool {
    matches!(
        fixture,
        "test_input_required_result_request_state"
            | "test_input_required_result_multiple_inputs"
            | "test_input_required_result_multi_round"
            | "test_input_required_result_tampered_state"
    )
}

fn elicitation(message: &str, field: &str, kind: &str) -> Value {
    json!({
        "method": "elicitation/create",
        "params": {
            "message": message,
            "requestedSchema": {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}
        }
    })
}

fn sampling(text: &str, max_tokens: u32) -> Value {
    json!({
        "method": "sampling/createMessage",
        "params": {
            "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
            "maxTokens": max_tokens
        }
    })
}

/// The input request behind each key.
fn input_request(key: &str) -> Value {
    match key {
        "user_name" => elicitation("What is your name?", "name", "string"),
        "capital_question" => sampling("What is the capital of France?", 100),
        "client_roots" => json!({"method": "roots/list", "params": {}}),
        "confirm" => elicitation("Please confirm", "ok", "boolean"),
        "greeting" => sampling("Generate a greeting", 50),
        "step1" => elicitation("Step 1: What is your name?", "name", "string"),
        "step2" => elicitation("Step 2: What is your favorite color?", "color", "string"),
        _ => elicitation("What context should the prompt use?", "context", "string"),
    }
}

/// Whether the client declared what the request behind `key` needs.
fn declared(key: &str, capabilities: &ClientCapabilities) -> bool {
    match input_request(key)["method"].as_str() {
        Some("sampling/createMessage") => capabilities.sampling.is_some(),
        Some("roots/list") => capabilities.roots.is_some(),
        _ => capabilities.elicitation.is_some(),
    }
}

/// One call of a fixture: what the client sent back, if anything.
pub(crate) struct Call<'a> {
    pub(crate) fixture: &'a str,
    pub(crate) request: StateRequest,
    pub(crate) principal: &'a Principal,
    pub(crate) capabilities: Option<ClientCapabilities>,
    pub(crate) responses: Option<&'a InputResponses>,
    pub(crate) state: Option<&'a str>,
}

/// What a call comes to: more inputs needed, or the text of the result.
pub(crate) enum Outcome {
    InputRequired(InputRequiredResult),
    Complete(String),
}

impl Call<'_> {
    /// Runs one round: asks for the inputs of the round the (opened) state
    /// names, or, when the client sent them all, goes on to the next round or
    /// completes. Missing or malformed inputs are asked for again.
    pub(crate) async fn run(self, sealer: &StateSealer) -> Result<Outcome, ErrorData> {
        let round = match (keeps_state(self.fixture), self.state) {
            (true, Some(state)) => {
                let opened = sealer
                    .open(self.principal, &self.request, state)
                    .await
                    .map_err(refused)?;
                String::from_utf8_lossy(&opened).parse().unwrap_or(1)
            }
            _ => 1,
        };
        let empty = InputResponses::new();
        let responses = self.responses.unwrap_or(&empty);
        let needed = self.needed(round);
        // An answer is a result object (ElicitResult, CreateMessageResult,
        // ListRootsResult); anything else is asked for again.
        let answered = needed
            .iter()
            .all(|key| responses.get(*key).is_some_and(Value::is_object));
        // Stateful fixtures only count answers that come with their state.
        let answered = answered && (self.state.is_some() || !keeps_state(self.fixture));
        match (answered, round < rounds(self.fixture)) {
            (true, false) => Ok(Outcome::Complete(complete(self.fixture, responses))),
            (true, true) => self.input_required(sealer, round + 1),
            (false, _) => self.input_required(sealer, round),
        }
    }

    /// The inputs of `round`; for the capability fixture, only those the
    /// client declared it can answer.
    fn needed(&self, round: u8) -> Vec<&'static str> {
        let mut needed = inputs(self.fixture, round).to_vec();
        if self.fixture == "test_input_required_result_capabilities" {
            let capabilities = self.capabilities.clone().unwrap_or_default();
            needed.retain(|key| declared(key, &capabilities));
        }
        needed
    }

    fn input_required(&self, sealer: &StateSealer, round: u8) -> Result<Outcome, ErrorData> {
        let needed = self.needed(round);
        let requests = Value::from_iter(needed.iter().map(|key| (key.to_string(), input_request(key))));
        let requests: InputRequests = serde_json::from_value(requests)
            .map_err(|e| ErrorData::internal_error(format!("input requests: {e}"), None))?;
        let state = if keeps_state(self.fixture) {
            let sealed = sealer
                .seal(self.principal, &self.request, round.to_string().as_bytes())
                .map_err(refused)?;
            Some(sealed)
        } else {
            None
        };
        Ok(Outcome::InputRequired(InputRequiredResult::new(
            Some(requests),
            state,
        )))
    }
}

/// A state that cannot be used: the client's error (-32602), but for an
/// unavailable replay cache, the server's.
fn refused(error: StateError) -> ErrorData {
    match error {
        StateError::Unavailable | StateError::Crypto => ErrorData::internal_error(error.to_string(), None),
        refused => ErrorData::invalid_params(format!("request state refused: {refused}"), None),
    }
}

/// The text of a completed fixture, from the client's answers.
fn complete(fixture: &str, responses: &InputResponses) -> String {
    let content = |key: &str, field: &str| {
        responses
            .get(key)
            .and_then(|r| r["content"][field].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let roots = || {
        let roots = responses.get("client_roots").and_then(|r| r["roots"].as_array());
        let uris = roots
            .into_iter()
            .flatten()
            .filter_map(|root| root["uri"].as_str());
        uris.collect::<Vec<_>>().join(", ")
    };
    match fixture {
        "test_input_required_result_elicitation" => format!("Hello, {}!", content("user_name", "name")),
        "test_input_required_result_sampling" => content("capital_question", "text"),
        "test_input_required_result_list_roots" => format!("Roots: {}", roots()),
        "test_input_required_result_multiple_inputs" => format!(
            "state-ok: {}, {}, roots: {}",
            content("user_name", "name"),
            content("greeting", "text"),
            roots()
        ),
        "test_input_required_result_multi_round" => format!("Done: {}", content("step2", "color")),
        "test_input_required_result_capabilities" => {
            format!("Answer: {}", content("capital_question", "text"))
        }
        PROMPT => format!("Context: {}", content("user_context", "context")),
        _ => "state-ok".to_owned(),
    }
}
