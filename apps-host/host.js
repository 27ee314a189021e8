// A minimal MCP Apps host for the App card's browser tests, built from the
// ext-apps host bridge (AppBridge, PostMessageTransport). esbuild bundles it
// from node_modules at test time (tests/mcp/app_host.py); nothing is fetched.
//
// What it does, as the ext-apps specification (2026-01-26) asks of a host:
// renders the ui:// resource in a sandboxed iframe (scripts only: an opaque
// origin, never the host's), puts the CSP it builds from the resource's
// `_meta.ui.csp` first in the document, answers `ui/initialize` through the
// bridge, sends tool-input then tool-result once the view is initialized, and
// passes the view's `tools/call` to the MCP server (here: a real mcp.Client in
// the test process, reached through a Playwright binding), refusing tools the
// server did not list or did not make visible to apps.
import {
  AppBridge,
  PostMessageTransport,
  RESOURCE_MIME_TYPE,
  getToolUiResourceUri,
  isToolVisibilityModelOnly,
} from "@modelcontextprotocol/ext-apps/app-bridge";

const HOST = { name: "signoff-test-host", version: "1.0.0" };

// The specification's CSP construction ("Content Security Policy Enforcement").
function cspFor(csp) {
  const resources = (csp && csp.resourceDomains ? csp.resourceDomains : []).join(" ");
  const connect = (csp && csp.connectDomains ? csp.connectDomains : []).join(" ");
  const frames = csp && csp.frameDomains && csp.frameDomains.length ? csp.frameDomains.join(" ") : "'none'";
  const bases = csp && csp.baseUriDomains && csp.baseUriDomains.length ? csp.baseUriDomains.join(" ") : "'self'";
  return [
    "default-src 'none'",
    `script-src 'self' 'unsafe-inline' ${resources}`,
    `style-src 'self' 'unsafe-inline' ${resources}`,
    `connect-src 'self' ${connect}`,
    `img-src 'self' data: ${resources}`,
    `font-src 'self' ${resources}`,
    `media-src 'self' data: ${resources}`,
    `frame-src ${frames}`,
    "object-src 'none'",
    `base-uri ${bases}`,
  ].map((d) => d.trim()).join("; ");
}

function withCsp(html, csp) {
  const head = html.search(/<head[^>]*>/i);
  if (head < 0) throw new Error("the resource has no <head>");
  const end = html.indexOf(">", head) + 1;
  const meta = `<meta http-equiv="Content-Security-Policy" content="${cspFor(csp)}">`;
  return html.slice(0, end) + meta + html.slice(end);
}

window.hostLog = [];

// tool: the tool's definition from tools/list; resource: the resources/read
// content; tools: every listed tool; args and result: the call to show.
window.mountApp = async function mountApp({ tool, resource, tools, args, result }) {
  const uri = getToolUiResourceUri(tool);
  if (uri !== resource.uri) throw new Error(`${tool.name} is bound to ${uri}, not ${resource.uri}`);
  if (resource.mimeType !== RESOURCE_MIME_TYPE) throw new Error(`not an MCP App: ${resource.mimeType}`);

  const iframe = document.createElement("iframe");
  iframe.setAttribute("sandbox", "allow-scripts");
  iframe.title = "MCP App: " + uri;
  document.getElementById("slot").append(iframe);

  const bridge = new AppBridge(null, HOST, { serverTools: {}, logging: {} }, {
    hostContext: {
      theme: "light", platform: "web", displayMode: "inline", availableDisplayModes: ["inline"],
      containerDimensions: { width: 600, maxHeight: 2000 }, toolInfo: { tool },
      locale: "en-GB", timeZone: "UTC",
    },
  });
  bridge.oncalltool = async (params) => {
    const called = tools.find((t) => t.name === params.name);
    if (!called || isToolVisibilityModelOnly(called)) throw new Error(`tool ${params.name} is not callable by apps`);
    window.hostLog.push({ call: params.name, arguments: params.arguments });
    return window.signoffCallTool(params);
  };
  bridge.onsizechange = ({ height }) => { if (height != null) iframe.style.height = `${height}px`; };
  bridge.onloggingmessage = (params) => window.hostLog.push({ log: params });
  const initialized = new Promise((resolve) => { bridge.oninitialized = resolve; });

  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
  iframe.srcdoc = withCsp(resource.text, resource._meta && resource._meta.ui && resource._meta.ui.csp);
  await initialized;
  window.hostLog.push({ initialized: bridge.getAppVersion() });
  await bridge.sendToolInput({ arguments: args });
  await bridge.sendToolResult(result);
  window.hostLog.push({ sent: "tool-result" });
};
