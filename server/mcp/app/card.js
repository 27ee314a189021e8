// The proposal card's view: a small hand-written client of the MCP Apps
// bridge (ext-apps specification 2026-01-26: JSON-RPC 2.0 over postMessage
// with the host). It shows one receipt and, while the proposal waits, asks
// the host for get_proposal every few seconds (tools/call through the host).
// Whatever an agent, an upstream or a reviewer wrote goes in as textContent,
// never as markup. It has no controls: approving stays with reviewers.
"use strict";
(function () {
  const PROTOCOL_VERSION = "2026-01-26";
  const POLL_MS = 3000;
  const MAX_BACKOFF_MS = 60000;
  const CARD_META = "signoff/card";
  const WAITING = new Set(["pending_approval", "approved", "executing"]);
  const TONES = {
    pending_approval: "wait", approved: "run", executing: "run", executed: "done",
    rejected: "stop", expired: "stop", conflict: "stop", failed: "stop",
    outcome_unknown: "stop", withdrawn: "off",
  };
  const VALUE_MAX = 300;
  const host = window.parent;
  const byId = (id) => document.getElementById(id);

  let nextId = 1;
  const inflight = new Map();
  let hostTools = false;
  let proposalId = null;
  let timer = null;
  let backoff = POLL_MS;
  let closed = false;

  // --- the bridge ----------------------------------------------------------

  function post(message) { host.postMessage(message, "*"); }

  function request(method, params) {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      inflight.set(id, { resolve, reject });
      post({ jsonrpc: "2.0", id, method, params });
    });
  }

  function notify(method, params) { post({ jsonrpc: "2.0", method, params: params || {} }); }

  const handlers = {
    ping: () => ({}),
    "ui/resource-teardown": () => { stop("Closed."); return {}; },
  };
  const listeners = {
    "ui/notifications/tool-input": (params) => {
      const given = params.arguments && params.arguments.proposal_id;
      if (typeof given === "string") proposalId = given;
    },
    "ui/notifications/tool-result": show,
    "ui/notifications/tool-cancelled": (params) => stop(
      "The tool call was cancelled" + (params.reason ? ": " + params.reason : ".")),
    "ui/notifications/host-context-changed": applyContext,
  };

  window.addEventListener("message", (event) => {
    if (event.source !== host) return;  // only the host speaks to this view
    const message = event.data;
    if (!message || typeof message !== "object" || message.jsonrpc !== "2.0") return;
    if (typeof message.method === "string") {
      const params = message.params || {};
      if (message.id === undefined || message.id === null) {
        const listener = listeners[message.method];
        if (listener) listener(params);
        return;
      }
      const handler = handlers[message.method];
      post(handler
        ? { jsonrpc: "2.0", id: message.id, result: handler(params) }
        : { jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "Method not found" } });
      return;
    }
    const waiter = inflight.get(message.id);
    if (!waiter) return;
    inflight.delete(message.id);
    if (message.error) waiter.reject(new Error(String(message.error.message || "error")));
    else waiter.resolve(message.result);
  });

  function applyContext(context) {
    if (context.theme === "light" || context.theme === "dark") {
      document.documentElement.dataset.theme = context.theme;
    }
    const variables = (context.styles && context.styles.variables) || {};
    for (const [name, value] of Object.entries(variables)) {
      if (name.startsWith("--") && typeof value === "string") {
        document.documentElement.style.setProperty(name, value);
      }
    }
  }

  function reportSize() {
    let last = 0;
    const card = byId("card");
    const measure = () => {
      const height = Math.ceil(card.getBoundingClientRect().height + 24);
      if (height !== last) {
        last = height;
        notify("ui/notifications/size-changed", { height });
      }
    };
    new ResizeObserver(measure).observe(card);
    measure();
  }

  async function start() {
    try {
      const init = await request("ui/initialize", {
        appInfo: { name: "signoff-proposal-card", version: "1.0.0" },
        appCapabilities: { availableDisplayModes: ["inline"] },
        protocolVersion: PROTOCOL_VERSION,
      });
      hostTools = Boolean(init && init.hostCapabilities && init.hostCapabilities.serverTools);
      applyContext((init && init.hostContext) || {});
      notify("ui/notifications/initialized");
      reportSize();
    } catch (error) {
      footer("The host did not start this card: " + error.message);
    }
  }

  // --- following the proposal ----------------------------------------------

  function show(result) {
    const receipt = result && result.structuredContent;
    if (!receipt || typeof receipt.status !== "string") {
      failed(textOf(result) || "This result holds no proposal.");
      return;
    }
    render(receipt, result._meta && result._meta[CARD_META]);
    if (typeof receipt.proposal_id === "string") proposalId = receipt.proposal_id;
    follow(receipt.status);
  }

  function follow(status) {
    clearTimeout(timer);
    if (closed) return;
    if (!proposalId) { footer("Nothing was recorded, so there is nothing to follow."); return; }
    if (!WAITING.has(status)) { footer("Final: " + label(status) + "."); return; }
    if (!hostTools) { footer("This host does not pass tool calls on, so the card does not refresh."); return; }
    footer("Waiting; checking again every " + POLL_MS / 1000 + " s.");
    timer = setTimeout(refresh, POLL_MS);
  }

  async function refresh() {
    try {
      const result = await request("tools/call", {
        name: "get_proposal", arguments: { proposal_id: proposalId },
      });
      if (closed) return;
      if (result && result.isError) throw new Error(textOf(result) || "get_proposal failed");
      backoff = POLL_MS;
      show(result);
    } catch (error) {
      if (closed) return;
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      footer("Could not refresh (" + error.message + "); trying again in " + backoff / 1000 + " s.");
      timer = setTimeout(refresh, backoff);
    }
  }

  function stop(why) {
    closed = true;
    clearTimeout(timer);
    footer(why);
  }

  // --- rendering (textContent only) ----------------------------------------

  function label(status) { return String(status).replace(/_/g, " "); }

  function put(id, value) { byId(id).textContent = value === undefined || value === null ? "" : String(value); }

  function node(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = String(text);
    return element;
  }

  function footer(text) { put("refresh", text); }

  function failed(text) {
    byId("card").dataset.status = "error";
    byId("card").dataset.tone = "stop";
    put("status", "error");
    put("next", text);
  }

  function textOf(result) {
    const blocks = (result && result.content) || [];
    return blocks.filter((b) => b && b.type === "text").map((b) => String(b.text)).join("\n");
  }

  function clip(value) {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return text.length > VALUE_MAX ? text.slice(0, VALUE_MAX - 1) + "…" : text;
  }

  function when(iso) {
    return typeof iso === "string" ? iso.replace("T", " ").replace(/(\.\d+)?(Z|\+00:00)$/, " UTC") : "";
  }

  function render(receipt, card) {
    const root = byId("card");
    root.dataset.status = receipt.status;
    root.dataset.tone = TONES[receipt.status] || "off";
    const decision = receipt.decision || {};
    put("status", label(receipt.status));
    put("proposal-id", receipt.proposal_id || "Nothing recorded");
    put("subject", [receipt.command_type, receipt.aggregate_id].filter(Boolean).join(" · "));
    put("rule", decision.rule_id || "none");
    put("effect", decision.effect || receipt.outcome);
    put("reason", receipt.reason || decision.reason || "");
    put("expires", !WAITING.has(receipt.status) ? "—" : decision.expires_at ? when(decision.expires_at) : "never");
    renderVotes(card, WAITING.has(receipt.status));
    put("needed", card ? card.still_needed : "Not shared on this connection.");
    renderResult(receipt);
    put("next", receipt.next);
  }

  function renderVotes(card, waiting) {
    const list = byId("votes");
    list.replaceChildren();
    const votes = (card && card.votes) || [];
    if (!votes.length) {
      const none = waiting ? "No votes yet." : "No votes.";
      list.append(node("li", "empty", card ? none : "Not shared on this connection."));
      return;
    }
    for (const vote of votes) {
      const item = node("li", "vote");
      item.dataset.verdict = vote.verdict;
      item.append(node("span", "verdict " + vote.verdict, vote.verdict === "approve" ? "approved" : "rejected"));
      item.append(node("span", "voter", vote.voter_id));
      const roles = (vote.roles || []).join(", ");
      item.append(node("span", "meta", (roles ? " · " + roles : "") + " · " + vote.channel + " · " + when(vote.cast_at)));
      if (vote.comment) item.append(node("span", "comment", vote.comment));
      list.append(item);
    }
  }

  function renderResult(receipt) {
    const box = byId("result");
    box.replaceChildren();
    const events = receipt.events || [];
    const problems = receipt.problems || [];
    const upstream = receipt.result;
    if (events.length) {
      const list = node("ul", "events");
      for (const event of events) {
        const item = node("li", "event");
        item.append(node("span", "event-type", event.event_type));
        item.append(node("span", "meta", " · " + event.aggregate_id + " v" + event.aggregate_version));
        for (const [key, value] of Object.entries(event.payload || {})) {
          item.append(node("span", "value", key + ": " + clip(value)));
        }
        list.append(item);
      }
      box.append(list);
    }
    if (upstream) {
      box.append(node("p", "meta", upstream.isError ? "The upstream answered with an error:" : "The upstream answered:"));
      for (const block of upstream.content || []) {
        box.append(node("pre", "upstream", block && block.type === "text" ? block.text : clip(block)));
      }
    }
    if (problems.length) {
      const list = node("ul", "problems");
      for (const problem of problems) list.append(node("li", "problem", problem.field + ": " + problem.problem));
      box.append(list);
    }
    if (!box.childElementCount) {
      const empty = receipt.status === "executing" ? "The call is under way; its answer shows here."
        : WAITING.has(receipt.status) ? "Nothing has run yet." : "Nothing was executed.";
      box.append(node("p", "empty", empty));
    }
  }

  start();
})();
