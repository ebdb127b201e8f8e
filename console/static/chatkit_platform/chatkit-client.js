/*
 * <chatkit-client>: a small ChatKit web client, in plain JavaScript, with no dependency.
 *
 *   <script src="https://chat.example.com/static/chatkit_platform/chatkit-client.js" defer></script>
 *   <chatkit-client endpoint="https://chat.example.com/t/acme/agents/support/chatkit"></chatkit-client>
 *
 * It speaks the ChatKit protocol (JSON requests, Server-Sent Events answers) to one agent's
 * endpoint and renders what the agent streams: text (a safe Markdown subset), widgets with
 * their actions, workflows and thoughts, progress, client tool calls, errors with retry,
 * attachments, and a thread list. After a page reload it reopens the thread and follows
 * the run still in progress through the endpoint's `/threads/<id>/stream` URL.
 *
 * Credentials: either a static bearer token (`token` attribute or property, with `user`
 * naming the end user for an API key) or a `getClientSecret(current)` function property
 * that fetches a client secret from the host's backend (called again when the secret has
 * expired or the endpoint answers 401).
 *
 * Content-Security-Policy friendly: no eval, no inline script or handler, no innerHTML;
 * every text from the network is set with textContent. Styles come from
 * chatkit-client.css next to this file (override with the `stylesheet` attribute).
 */
(() => {
  "use strict";

  const TAG = "chatkit-client";
  if (customElements.get(TAG)) return;

  const SCRIPT_URL = document.currentScript ? document.currentScript.src : location.href;
  const DEFAULT_STYLESHEET = new URL("chatkit-client.css", SCRIPT_URL).href;
  const SAFE_LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
  const SAFE_IMAGE_PROTOCOLS = new Set(["http:", "https:", "blob:"]);
  const SECRET_REFRESH_MARGIN_MS = 30_000;
  const HISTORY_PAGE = 50;
  const THREAD_PAGE = 20;
  const SVG_NS = "http://www.w3.org/2000/svg";

  // ------------------------------------------------------------------ DOM helpers

  /** Build an element: h("div", {class: "x", onclick: fn}, "text", child). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else if (key === "class") {
        el.className = value;
      } else if (key === "dataset") {
        Object.assign(el.dataset, value);
      } else if (key in el && typeof value !== "string") {
        el[key] = value;
      } else {
        el.setAttribute(key, value === true ? "" : String(value));
      }
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const ICONS = {
    plus: "M12 5v14M5 12h14",
    send: "M12 19V5M5 12l7-7 7 7",
    menu: "M4 6h16M4 12h16M4 18h16",
    close: "M6 6l12 12M18 6L6 18",
    clip: "M21 11.5l-8.6 8.6a5 5 0 01-7.1-7.1l8.6-8.6a3.3 3.3 0 014.7 4.7l-8.6 8.6a1.7 1.7 0 01-2.4-2.4l7.9-7.9",
    tool: "M14.7 6.3a4 4 0 00-5.4 5.4L3 18l3 3 6.3-6.3a4 4 0 005.4-5.4l-2.6 2.6-2.4-.6-.6-2.4z",
    alert: "M12 9v4M12 17h.01M10.3 3.9L1.8 18a2 2 0 001.7 3h17a2 2 0 001.7-3L13.7 3.9a2 2 0 00-3.4 0z",
    retry: "M3 12a9 9 0 019-9 9 9 0 016.4 2.6L21 8M21 3v5h-5M21 12a9 9 0 01-9 9 9 9 0 01-6.4-2.6L3 16M3 21v-5h5",
    spark: "M12 3l1.9 5.8L20 10.7l-5.1 3.7L16.9 21 12 17.3 7.1 21l2-6.6L4 10.7l6.1-1.9z",
    copy: "M9 9h11v11H9zM5 15H4V4h11v1",
    up: "M7 10v11M15 5.9L14 10h5.8a2 2 0 012 2.3l-1.4 7A2 2 0 0118.5 21H7V10l4-8a3 3 0 013 3.9z",
    down: "M17 14V3M9 18.1L10 14H4.2a2 2 0 01-2-2.3l1.4-7A2 2 0 015.5 3H17v11l-4 8a3 3 0 01-3-3.9z",
    check: "M5 12l5 5L20 7",
    file: "M14 3H6a2 2 0 00-2 2v14a2 2 0 002 2h12a2 2 0 002-2V9zM14 3v6h6",
    dot: "M12 12h.01",
    chevron: "M9 6l6 6-6 6",
  };

  function icon(name, label) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", label ? "false" : "true");
    if (label) svg.setAttribute("aria-label", label);
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", ICONS[name] || ICONS.dot);
    svg.append(path);
    return svg;
  }

  function safeUrl(value, protocols) {
    if (typeof value !== "string" || !value) return null;
    try {
      const url = new URL(value, location.href);
      return protocols.has(url.protocol) ? url.href : null;
    } catch {
      return null;
    }
  }

  function safeImageUrl(value) {
    if (typeof value === "string" && /^data:image\/(png|jpe?g|gif|webp);base64,[a-z0-9+/=\s]+$/i.test(value)) {
      return value;
    }
    return safeUrl(value, SAFE_IMAGE_PROTOCOLS);
  }

  function json(value) {
    if (value === undefined) return "";
    try {
      return typeof value === "string" ? value : JSON.stringify(value, null, 2);
    } catch {
      return String(value);
    }
  }

  // ------------------------------------------------------------------ Markdown subset

  const BLOCK_START = /^\s*(```|~~~|#{1,6}\s|>|([-*+]|\d{1,9}[.)])\s+|([-*_])(\s*\3){2,}\s*$)/;
  const LIST_ITEM = /^(\s*)([-*+]|(\d{1,9})[.)])\s+(.*)$/;
  const TABLE_RULE = /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;

  /** Return a fragment for a Markdown subset: paragraphs, headings, code, lists, quotes, tables. */
  function markdown(text) {
    const frag = document.createDocumentFragment();
    const lines = String(text || "").replace(/\r\n?/g, "\n").split("\n");
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      const fence = line.match(/^\s*(```|~~~)\s*([\w+#.-]*)\s*$/);
      if (fence) {
        const body = [];
        i += 1;
        while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
        i += 1;
        const code = h("code", {}, body.join("\n"));
        frag.append(h("pre", { class: "code", dataset: fence[2] ? { lang: fence[2] } : {} }, code));
        continue;
      }
      if (!line.trim()) {
        i += 1;
        continue;
      }
      const heading = line.match(/^(#{1,6})\s+(.*)$/);
      if (heading) {
        const level = Math.min(6, heading[1].length + 2);
        frag.append(inline(h(`h${level}`, { class: "md-h" }), heading[2].replace(/\s#+\s*$/, "")));
        i += 1;
        continue;
      }
      if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
        frag.append(h("hr"));
        i += 1;
        continue;
      }
      if (/^\s*>/.test(line)) {
        const quoted = [];
        while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*>\s?/, ""));
        frag.append(h("blockquote", {}, markdown(quoted.join("\n"))));
        continue;
      }
      if (LIST_ITEM.test(line)) {
        const [list, next] = listBlock(lines, i);
        frag.append(list);
        i = next;
        continue;
      }
      if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
        const [table, next] = tableBlock(lines, i);
        frag.append(table);
        i = next;
        continue;
      }
      const para = [];
      while (i < lines.length && lines[i].trim() && !(para.length && BLOCK_START.test(lines[i]))) {
        para.push(lines[i++]);
      }
      const p = h("p");
      para.forEach((part, n) => {
        if (n) p.append(h("br"));
        inline(p, part.trim());
      });
      frag.append(p);
    }
    return frag;
  }

  function listBlock(lines, start) {
    const first = lines[start].match(LIST_ITEM);
    const ordered = first[3] !== undefined;
    const list = h(ordered ? "ol" : "ul", ordered && first[3] !== "1" ? { start: first[3] } : {});
    const indent = first[1].length;
    let i = start;
    let current = null;
    while (i < lines.length) {
      const line = lines[i];
      const match = line.match(LIST_ITEM);
      if (match && match[1].length <= indent + 1) {
        if ((match[3] !== undefined) !== ordered) break;
        current = [match[4]];
        list.append(h("li"));
        list.lastChild._lines = current;
        i += 1;
      } else if (line.trim() && /^\s+/.test(line) && current) {
        current.push(line.replace(/^\s{1,4}/, ""));
        i += 1;
      } else if (!line.trim() && i + 1 < lines.length && LIST_ITEM.test(lines[i + 1]) && current) {
        i += 1;
      } else {
        break;
      }
    }
    for (const li of list.children) {
      const body = li._lines;
      delete li._lines;
      if (body.length === 1) inline(li, body[0]);
      else li.append(markdown(body.join("\n")));
    }
    return [list, i];
  }

  function tableBlock(lines, start) {
    const cells = (row) => row.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
    const head = h("tr", {}, cells(lines[start]).map((c) => inline(h("th"), c)));
    const body = h("tbody");
    let i = start + 2;
    while (i < lines.length && lines[i].includes("|") && lines[i].trim()) {
      body.append(h("tr", {}, cells(lines[i]).map((c) => inline(h("td"), c))));
      i += 1;
    }
    return [h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, head), body)), i];
  }

  const INLINE =
    /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__|~~(?=\S)([\s\S]*?\S)~~|\*(?=[^\s*])([^*]*?[^\s*]|[^\s*])\*|(?<![\w])_(?=[^\s_])([^_]*?[^\s_]|[^\s_])_(?![\w])|\[([^\]\n]+)\]\(\s*<?((?:[^\s()<>]|\([^\s()<>]*\))+)>?(?:\s+"[^"]*")?\s*\)|<?(https?:\/\/[^\s<>]*[^\s<>.,;:!?'")\]])>?/g;

  /** Append `text` to `parent`, with inline code, emphasis, strike-through and safe links. */
  function inline(parent, text) {
    let last = 0;
    INLINE.lastIndex = 0;
    const source = String(text);
    const matches = [...source.matchAll(INLINE)];
    for (const m of matches) {
      if (m.index > last) parent.append(source.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[2] !== undefined) parent.append(h("code", {}, m[2].trim() ? m[2] : m[2]));
      else if (m[3] !== undefined || m[4] !== undefined) parent.append(inline(h("strong"), m[3] ?? m[4]));
      else if (m[5] !== undefined) parent.append(inline(h("del"), m[5]));
      else if (m[6] !== undefined || m[7] !== undefined) parent.append(inline(h("em"), m[6] ?? m[7]));
      else if (m[8] !== undefined) parent.append(link(m[9], m[8]));
      else if (m[10] !== undefined) parent.append(link(m[10], m[10]));
    }
    if (last < source.length) parent.append(source.slice(last));
    return parent;
  }

  function link(href, label) {
    const url = safeUrl(href, SAFE_LINK_PROTOCOLS);
    if (!url) return document.createTextNode(label);
    const a = h("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow" });
    return label === href ? append(a, [label]) : inline(a, label);
  }

  // ------------------------------------------------------------------ SSE

  /** Yield the JSON events of a `text/event-stream` response as they arrive. */
  async function* sseEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block
            .split("\n")
            .filter((line) => line.startsWith("data:"))
            .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5));
          if (!data.length) continue; // a keep-alive comment
          try {
            yield JSON.parse(data.join("\n"));
          } catch {
            /* not JSON: not an event of ours */
          }
        }
      }
    } finally {
      reader.releaseLock();
    }
  }

  // ------------------------------------------------------------------ transport

  class EndpointError extends Error {
    constructor(status, code, message, retryable) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryable = retryable;
    }
  }

  async function errorFrom(response) {
    let code = `http_${response.status}`;
    let message = `The chat service answered ${response.status} ${response.statusText}.`;
    try {
      const body = await response.json();
      if (body && body.error) {
        code = body.error.code || code;
        message = body.error.message || message;
      }
    } catch {
      /* a body that is not our JSON error */
    }
    const retryable = response.status === 429 || response.status >= 500;
    return new EndpointError(response.status, code, message, retryable);
  }

  /** The credentials and HTTP calls of one element. */
  class Transport {
    constructor(element) {
      this.element = element;
      this.secret = null; // {value, expiresAt}
    }

    get endpoint() {
      const value = this.element.endpoint;
      if (!value) throw new EndpointError(0, "no_endpoint", "No endpoint is configured.", false);
      return new URL(value, location.href).href;
    }

    streamUrl(threadId) {
      const url = new URL(this.endpoint);
      url.pathname = url.pathname.replace(/\/chatkit\/?$/, "") + `/threads/${encodeURIComponent(threadId)}/stream`;
      return url.href;
    }

    /**
     * Return the secret to send. `refused` is the secret a request was just refused with:
     * a new one is fetched only if it is still the current one. Callers that come while a
     * fetch is under way share it.
     */
    async credential(refused) {
      const fetchSecret = this.element.getClientSecret;
      if (typeof fetchSecret !== "function") return { value: this.element.token };
      if (this.fetching) return this.fetching;
      const expired = this.secret && this.secret.expiresAt && this.secret.expiresAt - Date.now() < SECRET_REFRESH_MARGIN_MS;
      if (this.secret && !expired && !(refused && refused === this.secret)) return this.secret;
      const previous = this.secret;
      this.fetching = Promise.resolve(fetchSecret(previous ? previous.value : null)).then(normalizeSecret);
      try {
        this.secret = await this.fetching;
      } finally {
        this.fetching = null;
      }
      return this.secret;
    }

    async headers(secret, withBody) {
      const headers = { Accept: withBody ? "text/event-stream, application/json" : "text/event-stream" };
      if (withBody) headers["Content-Type"] = "application/json";
      if (secret.value) headers.Authorization = `Bearer ${secret.value}`;
      if (this.element.user) headers["X-ChatKit-User"] = this.element.user;
      if (navigator.language) headers["Accept-Language"] = navigator.language;
      return Object.assign(headers, this.element.headers || {});
    }

    /** Send with the credential; on a 401 with a client secret, refresh it once and resend. */
    async send(url, init, withBody) {
      const refreshable = typeof this.element.getClientSecret === "function";
      const secret = await this.credential(null);
      let response;
      try {
        response = await this.fetch(url, { ...init, headers: await this.headers(secret, withBody) });
      } catch (error) {
        // A cross-origin 401 without CORS headers reaches a page as a network error:
        // with a client secret in use, fetch a new one and try once more.
        if (!(refreshable && error.code === "network")) throw error;
        response = { status: 401 };
      }
      if (response.status === 401 && refreshable) {
        const next = await this.credential(secret);
        response = await this.fetch(url, { ...init, headers: await this.headers(next, withBody) });
      }
      if (!response.ok) throw await errorFrom(response);
      return response;
    }

    async fetch(url, init) {
      try {
        return await fetch(url, { credentials: "omit", cache: "no-store", ...init });
      } catch (error) {
        if (error && error.name === "AbortError") throw error;
        throw new EndpointError(0, "network", "The chat service could not be reached. Check your connection.", true);
      }
    }

    request(type, params, signal) {
      const body = JSON.stringify({ type, params: params || {} });
      return this.send(this.endpoint, { method: "POST", body, signal }, true);
    }

    async call(type, params) {
      const response = await this.request(type, params);
      return response.json();
    }

    async follow(threadId, signal) {
      const response = await this.send(this.streamUrl(threadId), { method: "GET", signal }, false);
      return response.status === 204 ? null : response;
    }
  }

  function normalizeSecret(answer) {
    if (typeof answer === "string") return { value: answer, expiresAt: null };
    if (answer && typeof answer.client_secret === "string") {
      const at = answer.expires_at;
      const expiresAt = typeof at === "number" ? (at < 1e12 ? at * 1000 : at) : at ? Date.parse(at) : null;
      return { value: answer.client_secret, expiresAt: Number.isFinite(expiresAt) ? expiresAt : null };
    }
    throw new EndpointError(0, "no_secret", "getClientSecret() must return a client secret string.", true);
  }

  // ------------------------------------------------------------------ widgets

  const UNIT_PX = 4;
  const TEXT_COLORS = new Set(["primary", "secondary", "tertiary", "emphasis", "success", "danger", "warning", "caution", "info", "discovery", "prose"]);
  const SURFACES = new Set(["surface", "surface-secondary", "surface-tertiary", "surface-elevated", "surface-elevated-secondary"]);
  const CSS_LENGTH = /^-?\d*\.?\d+(px|rem|em|%|vh|vw|ch)?$|^auto$|^fit-content$|^min-content$|^max-content$/;

  function length(value) {
    if (typeof value === "number") return `${value}px`;
    return typeof value === "string" && CSS_LENGTH.test(value.trim()) ? value.trim() : null;
  }

  function space(value) {
    if (typeof value === "number") return `${value * UNIT_PX}px`;
    return length(value);
  }

  function colorValue(value, theme) {
    if (value && typeof value === "object") return colorValue(theme === "dark" ? value.dark : value.light, theme);
    if (typeof value !== "string") return null;
    if (TEXT_COLORS.has(value)) return `var(--ck-color-${value})`;
    if (SURFACES.has(value)) return `var(--ck-${value})`;
    const primitive = value.match(/^(red|orange|yellow|green|blue|purple|pink|gray)-(\d{2,3})$/);
    if (primitive) return `var(--ck-${primitive[1]}, ${primitive[1]})`;
    return CSS.supports("color", value) ? value : null;
  }

  function setStyle(el, prop, value) {
    if (value !== null && value !== undefined) el.style.setProperty(prop, value);
  }

  function applySpacing(el, prop, value) {
    if (value && typeof value === "object") {
      const side = (name, ...alts) => space(value[name] ?? alts.map((a) => value[a]).find((v) => v !== undefined));
      setStyle(el, `${prop}-top`, side("top", "y"));
      setStyle(el, `${prop}-bottom`, side("bottom", "y"));
      setStyle(el, `${prop}-left`, side("left", "x"));
      setStyle(el, `${prop}-right`, side("right", "x"));
    } else {
      setStyle(el, prop, space(value));
    }
  }

  function applyBorder(el, value, theme) {
    if (value === undefined || value === null) return;
    if (typeof value === "number") return setStyle(el, "border", `${value}px solid var(--ck-border)`);
    if (typeof value.size === "number") {
      const style = /^(solid|dashed|dotted|double)$/.test(value.style || "") ? value.style : "solid";
      return setStyle(el, "border", `${value.size}px ${style} ${colorValue(value.color, theme) || "var(--ck-border)"}`);
    }
    for (const side of ["top", "right", "bottom", "left"]) {
      const spec = value[side] ?? value[side === "top" || side === "bottom" ? "y" : "x"];
      if (spec !== undefined) {
        const size = typeof spec === "number" ? spec : spec.size || 1;
        setStyle(el, `border-${side}`, `${size}px solid ${(spec && colorValue(spec.color, theme)) || "var(--ck-border)"}`);
      }
    }
  }

  const ALIGN = { start: "flex-start", center: "center", end: "flex-end", baseline: "baseline", stretch: "stretch" };
  const JUSTIFY = { start: "flex-start", center: "center", end: "flex-end", between: "space-between", around: "space-around", evenly: "space-evenly", stretch: "stretch" };
  const RADIUS = { "2xs": "2px", xs: "4px", sm: "6px", md: "8px", lg: "12px", xl: "16px", "2xl": "20px", "3xl": "24px", "4xl": "32px", full: "9999px", "100%": "100%", none: "0" };

  function applyBox(el, node, theme) {
    el.classList.add("w-box");
    setStyle(el, "align-items", ALIGN[node.align]);
    setStyle(el, "justify-content", JUSTIFY[node.justify]);
    if (/^(nowrap|wrap|wrap-reverse)$/.test(node.wrap || "")) setStyle(el, "flex-wrap", node.wrap);
    if (node.flex !== undefined) setStyle(el, "flex", typeof node.flex === "number" ? `${node.flex} 1 0` : length(node.flex));
    setStyle(el, "gap", space(node.gap));
    applySpacing(el, "padding", node.padding);
    applySpacing(el, "margin", node.margin);
    applyBorder(el, node.border, theme);
    applySizes(el, node);
    setStyle(el, "border-radius", RADIUS[node.radius]);
    setStyle(el, "background", colorValue(node.background, theme));
    if (node.aspectRatio !== undefined) setStyle(el, "aspect-ratio", String(node.aspectRatio).replace(/[^\d./\s]/g, ""));
  }

  function applySizes(el, node) {
    for (const [key, prop] of [
      ["width", "width"], ["height", "height"], ["minWidth", "min-width"], ["minHeight", "min-height"],
      ["maxWidth", "max-width"], ["maxHeight", "max-height"],
    ]) {
      setStyle(el, prop, length(node[key]));
    }
    if (node.size !== undefined) {
      setStyle(el, "width", length(node.size));
      setStyle(el, "height", length(node.size));
    }
  }

  function textProps(el, node, theme) {
    setStyle(el, "color", colorValue(node.color, theme));
    if (node.weight) el.dataset.weight = node.weight;
    if (node.size) el.dataset.size = node.size;
    if (node.textAlign) setStyle(el, "text-align", { start: "start", center: "center", end: "end" }[node.textAlign]);
    if (node.italic) setStyle(el, "font-style", "italic");
    if (node.lineThrough) setStyle(el, "text-decoration", "line-through");
    if (node.truncate) el.classList.add("truncate");
    if (node.maxLines) {
      el.classList.add("clamp");
      setStyle(el, "-webkit-line-clamp", String(parseInt(node.maxLines, 10) || 1));
    }
    setStyle(el, "width", length(node.width));
  }

  /** Renders one widget tree; `ctx` gives the item id, the theme and the action sender. */
  class WidgetRenderer {
    constructor(ctx) {
      this.ctx = ctx;
    }

    render(node) {
      if (!node || typeof node !== "object" || typeof node.type !== "string") return null;
      const method = this[`r${node.type.replace(/\W/g, "_")}`];
      const el = method ? method.call(this, node) : this.unknown(node);
      if (el && node.id) el.dataset.widgetId = String(node.id);
      return el;
    }

    children(list) {
      return (Array.isArray(list) ? list : list ? [list] : []).map((child) => this.render(child));
    }

    unknown(node) {
      return h("div", { class: "w-unknown", role: "group", "aria-label": `Unsupported widget ${node.type}` },
        h("span", { class: "w-unknown-label" }, `Unsupported widget: ${node.type}`),
        this.children(node.children),
        typeof node.value === "string" ? h("div", {}, node.value) : null);
    }

    rCard(node) {
      const theme = node.theme || this.ctx.theme;
      const tag = node.asForm || node.confirm ? "form" : "section";
      const card = h(tag, { class: `w-card w-size-${node.size || "md"}`, "data-theme": node.theme || null });
      if (tag === "form") {
        card.noValidate = false;
        card.addEventListener("submit", (event) => {
          event.preventDefault();
          if (node.confirm && node.confirm.action) this.ctx.fire(node.confirm.action, card, "container");
        });
      }
      const body = h("div", { class: "w-card-body" }, this.status(node.status), this.children(node.children));
      applySpacing(body, "padding", node.padding);
      setStyle(card, "background", colorValue(node.background, theme));
      applyBorder(card, node.border, theme);
      card.append(body);
      if (node.confirm || node.cancel) {
        const actions = h("div", { class: "w-card-actions" });
        if (node.cancel) {
          actions.append(h("button", {
            type: "button", class: "btn btn-secondary",
            onclick: () => this.ctx.fire(node.cancel.action, card, "container"),
          }, node.cancel.label || "Cancel"));
        }
        if (node.confirm) actions.append(h("button", { type: "submit", class: "btn btn-primary" }, node.confirm.label || "Confirm"));
        card.append(actions);
      }
      return card;
    }

    status(status) {
      if (!status || !status.text) return null;
      const favicon = safeImageUrl(status.favicon);
      return h("div", { class: "w-status" }, favicon ? h("img", { src: favicon, alt: "", class: "w-favicon" }) : null, status.text);
    }

    rListView(node) {
      const list = h("div", { class: "w-list", role: "list" });
      const items = Array.isArray(node.children) ? node.children : [];
      const limit = typeof node.limit === "number" ? node.limit : items.length;
      items.forEach((child, n) => {
        const el = this.render(child);
        if (!el) return;
        if (n >= limit) el.hidden = true;
        list.append(el);
      });
      const wrap = h("div", { class: "w-listview" }, this.status(node.status), list);
      if (items.length > limit) {
        const more = h("button", {
          type: "button", class: "btn btn-ghost w-more",
          onclick: () => {
            for (const el of list.children) el.hidden = false;
            more.remove();
          },
        }, `Show ${items.length - limit} more`);
        wrap.append(more);
      }
      return wrap;
    }

    rListViewItem(node) {
      const row = h("div", { class: "w-list-item", role: "listitem" }, this.children(node.children));
      setStyle(row, "gap", space(node.gap));
      setStyle(row, "align-items", ALIGN[node.align]);
      if (node.onClickAction) {
        row.classList.add("clickable");
        row.tabIndex = 0;
        row.setAttribute("role", "button");
        const fire = () => this.ctx.fire(node.onClickAction, row, "self");
        row.addEventListener("click", fire);
        row.addEventListener("keydown", (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            fire();
          }
        });
      }
      return row;
    }

    rBasic(node) {
      const el = h("div", { class: `w-basic w-${node.direction === "row" ? "row" : "col"}` }, this.children(node.children));
      applyBox(el, node, this.ctx.theme);
      return el;
    }

    rBox(node) {
      const el = h("div", { class: node.direction === "row" ? "w-row" : "w-col" }, this.children(node.children));
      applyBox(el, node, this.ctx.theme);
      return el;
    }

    rRow(node) {
      const el = h("div", { class: "w-row" }, this.children(node.children));
      applyBox(el, node, this.ctx.theme);
      return el;
    }

    rCol(node) {
      const el = h("div", { class: "w-col" }, this.children(node.children));
      applyBox(el, node, this.ctx.theme);
      return el;
    }

    rForm(node) {
      const form = h("form", { class: node.direction === "row" ? "w-row w-form" : "w-col w-form" }, this.children(node.children));
      applyBox(form, node, this.ctx.theme);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (node.onSubmitAction) this.ctx.fire(node.onSubmitAction, event.submitter || form, "self");
      });
      return form;
    }

    rTransition(node) {
      return h("div", { class: "w-transition" }, this.children(node.children));
    }

    rText(node) {
      if (node.editable && node.editable.name) {
        const spec = node.editable;
        return h("input", {
          class: "w-input", name: spec.name, value: node.value || "", placeholder: spec.placeholder || null,
          required: !!spec.required, pattern: spec.pattern || null, autofocus: !!spec.autoFocus,
        });
      }
      const el = h("p", { class: "w-text" }, node.value || "");
      textProps(el, node, this.ctx.theme);
      if (node.streaming) el.classList.add("streaming");
      return el;
    }

    rTitle(node) {
      const el = h("h3", { class: "w-title" }, node.value || "");
      textProps(el, node, this.ctx.theme);
      el.dataset.size = node.size || "md";
      return el;
    }

    rCaption(node) {
      const el = h("p", { class: "w-caption" }, node.value || "");
      textProps(el, node, this.ctx.theme);
      return el;
    }

    rMarkdown(node) {
      const el = h("div", { class: "w-markdown md" }, markdown(node.value || ""));
      if (node.streaming) el.classList.add("streaming");
      return el;
    }

    rBadge(node) {
      const color = /^(secondary|success|danger|warning|info|discovery)$/.test(node.color || "") ? node.color : "secondary";
      return h("span", { class: `w-badge badge-${color} badge-${node.variant || "soft"}${node.pill ? " pill" : ""}`, dataset: { size: node.size || "sm" } }, node.label || "");
    }

    rDivider(node) {
      const el = h("hr", { class: `w-divider${node.flush ? " flush" : ""}` });
      setStyle(el, "border-top-color", colorValue(node.color, this.ctx.theme));
      setStyle(el, "border-top-width", length(node.size));
      if (node.spacing !== undefined) {
        setStyle(el, "margin-top", space(node.spacing));
        setStyle(el, "margin-bottom", space(node.spacing));
      }
      return el;
    }

    rSpacer(node) {
      const el = h("div", { class: "w-spacer" });
      setStyle(el, "min-width", space(node.minSize));
      setStyle(el, "min-height", space(node.minSize));
      return el;
    }

    rIcon(node) {
      const known = { check: "check", "check-circle": "check", "check-circle-filled": "check", plus: "plus", star: "spark", "star-filled": "spark", sparkle: "spark", "sparkle-double": "spark", document: "file", "page-blank": "file", reload: "retry", info: "alert", bolt: "spark" };
      const el = h("span", { class: "w-icon", dataset: { size: node.size || "md" }, title: node.name || "" }, icon(known[node.name] || "dot"));
      setStyle(el, "color", colorValue(node.color, this.ctx.theme));
      return el;
    }

    rImage(node) {
      const src = safeImageUrl(node.src);
      if (!src) return h("div", { class: "w-image-missing" }, node.alt || "Image");
      const img = h("img", { class: `w-image${node.frame ? " frame" : ""}`, src, alt: node.alt || "", loading: "lazy" });
      if (/^(cover|contain|fill|scale-down|none)$/.test(node.fit || "")) setStyle(img, "object-fit", node.fit);
      if (typeof node.position === "string" && /^[a-z ]+$/.test(node.position)) setStyle(img, "object-position", node.position);
      applySizes(img, node);
      setStyle(img, "border-radius", RADIUS[node.radius]);
      applySpacing(img, "margin", node.margin);
      if (node.aspectRatio !== undefined) setStyle(img, "aspect-ratio", String(node.aspectRatio).replace(/[^\d./\s]/g, ""));
      return img;
    }

    rButton(node) {
      const style = node.style === "secondary" || (node.variant && node.variant !== "solid") ? "secondary" : "primary";
      const color = /^(danger|success|warning|caution|info|discovery)$/.test(node.color || "") ? ` btn-${node.color}` : "";
      const button = h("button", {
        type: node.submit ? "submit" : "button",
        class: `btn btn-${style}${color}${node.block ? " block" : ""}${node.pill ? " pill" : ""} btn-${node.variant || "solid"}`,
        disabled: !!node.disabled,
        dataset: { size: node.size || "md" },
      }, node.iconStart ? icon("spark") : null, node.label || "", node.iconEnd ? icon("spark") : null);
      if (!node.submit && node.onClickAction) {
        button.addEventListener("click", () => this.ctx.fire(node.onClickAction, button, "self"));
      } else if (node.submit && node.onClickAction) {
        button.addEventListener("click", (event) => {
          const form = button.closest("form");
          if (form && !form.reportValidity()) return;
          event.preventDefault();
          this.ctx.fire(node.onClickAction, button, "self");
        });
      }
      return button;
    }

    control(node, el) {
      if (node.onChangeAction) el.addEventListener("change", () => this.ctx.fire(node.onChangeAction, el, "none"));
      return el;
    }

    rInput(node) {
      const type = /^(number|email|text|password|tel|url)$/.test(node.inputType || "") ? node.inputType : "text";
      return h("input", {
        class: `w-input${node.pill ? " pill" : ""}`, type, name: node.name, value: node.defaultValue ?? "",
        placeholder: node.placeholder || null, required: !!node.required, pattern: node.pattern || null,
        disabled: !!node.disabled, autofocus: !!node.autoFocus, id: this.ctx.fieldId(node.name),
      });
    }

    rTextarea(node) {
      return h("textarea", {
        class: "w-input w-textarea", name: node.name, rows: String(node.rows || 3), placeholder: node.placeholder || null,
        required: !!node.required, disabled: !!node.disabled, id: this.ctx.fieldId(node.name),
      }, node.defaultValue || "");
    }

    rLabel(node) {
      const el = h("label", { class: "w-label", for: this.ctx.fieldId(node.fieldName) }, node.value || "");
      textProps(el, node, this.ctx.theme);
      return el;
    }

    rSelect(node) {
      const select = h("select", { class: "w-input w-select", name: node.name, disabled: !!node.disabled, id: this.ctx.fieldId(node.name) });
      if (node.placeholder || !node.defaultValue) select.append(h("option", { value: "" }, node.placeholder || "Choose…"));
      for (const option of node.options || []) {
        select.append(h("option", { value: option.value, disabled: !!option.disabled, selected: option.value === node.defaultValue }, option.label));
      }
      return this.control(node, select);
    }

    rCheckbox(node) {
      const box = h("input", { type: "checkbox", name: node.name, checked: !!node.defaultChecked, disabled: !!node.disabled, required: !!node.required, id: this.ctx.fieldId(node.name) });
      this.control(node, box);
      return h("label", { class: "w-checkbox" }, box, h("span", {}, node.label || ""));
    }

    rRadioGroup(node) {
      const group = h("div", { class: `w-radios w-${node.direction === "row" ? "row" : "col"}`, role: "radiogroup", "aria-label": node.ariaLabel || node.name });
      for (const option of node.options || []) {
        const radio = h("input", { type: "radio", name: node.name, value: option.value, checked: option.value === node.defaultValue, disabled: !!(node.disabled || option.disabled), required: !!node.required });
        this.control(node, radio);
        group.append(h("label", { class: "w-checkbox" }, radio, h("span", {}, option.label)));
      }
      return group;
    }

    rDatePicker(node) {
      const day = (value) => (typeof value === "string" ? value.slice(0, 10) : null);
      const input = h("input", { type: "date", class: "w-input", name: node.name, value: day(node.defaultValue) || "", min: day(node.min), max: day(node.max), disabled: !!node.disabled, id: this.ctx.fieldId(node.name) });
      return this.control(node, input);
    }

    rChart(node) {
      // A chart is shown as its data table: readable everywhere, and no drawing code.
      const series = Array.isArray(node.series) ? node.series : [];
      const xKey = typeof node.xAxis === "string" ? node.xAxis : node.xAxis && node.xAxis.dataKey;
      const head = h("tr", {}, h("th", {}, xKey || ""), series.map((s) => h("th", {}, s.label || s.dataKey)));
      const rows = (node.data || []).map((row) => h("tr", {}, h("td", {}, row[xKey] ?? ""), series.map((s) => h("td", {}, row[s.dataKey] ?? ""))));
      return h("figure", { class: "w-chart" }, h("figcaption", {}, "Chart data"), h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, head), h("tbody", {}, rows))));
    }

    rTable(node) {
      return h("div", { class: "table-wrap" }, h("table", { class: "w-table" }, h("tbody", {}, this.children(node.children))));
    }

    ["rTable_Row"](node) {
      const row = h("tr", {}, this.children(node.children));
      if (node.header) for (const cell of row.children) cell.classList.add("th");
      return row;
    }

    ["rTable_Cell"](node) {
      const cell = h("td", { colspan: node.colSpan ? String(node.colSpan) : null, rowspan: node.rowSpan ? String(node.rowSpan) : null }, this.children(node.children));
      if (node.align) setStyle(cell, "text-align", node.align === "end" ? "right" : node.align === "center" ? "center" : "left");
      return cell;
    }
  }

  /** Return the values of a form's named controls, dotted names nested. */
  function formValues(form) {
    const values = {};
    if (!form) return values;
    for (const el of form.elements) {
      if (!el.name || el.disabled) continue;
      let value;
      if (el.type === "checkbox") value = el.checked;
      else if (el.type === "radio") {
        if (!el.checked) continue;
        value = el.value;
      } else value = el.value;
      const path = el.name.split(".");
      let target = values;
      path.slice(0, -1).forEach((part) => {
        target = target[part] = target[part] && typeof target[part] === "object" ? target[part] : {};
      });
      target[path[path.length - 1]] = value;
    }
    return values;
  }

  function findWidgetNode(node, id) {
    if (!node || typeof node !== "object") return null;
    if (node.id === id) return node;
    const kids = Array.isArray(node.children) ? node.children : node.children ? [node.children] : [];
    for (const child of kids) {
      const found = findWidgetNode(child, id);
      if (found) return found;
    }
    return null;
  }

  function replaceWidgetNode(node, id, replacement) {
    if (!node || typeof node !== "object") return node;
    if (node.id === id) return replacement;
    if (Array.isArray(node.children)) node.children = node.children.map((child) => replaceWidgetNode(child, id, replacement));
    else if (node.children) node.children = replaceWidgetNode(node.children, id, replacement);
    return node;
  }

  // ------------------------------------------------------------------ the element

  const clone = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));
  let fieldCounter = 0;

  class ChatKitClient extends HTMLElement {
    static get observedAttributes() {
      return ["endpoint", "token", "user", "theme", "thread", "heading", "placeholder", "greeting", "starter-prompts", "attachments", "stylesheet", "threads"];
    }

    constructor() {
      super();
      this.transport = new Transport(this);
      this.items = []; // the current thread's visible items, in order
      this.itemNodes = new Map();
      this.threadId = null;
      this.threads = [];
      this.busy = false;
      this.pendingAttachments = [];
      this.lastFailure = null; // what Retry does after a failure with no server-side error event
      this.getClientSecret = this.getClientSecret || null;
      this.onClientTool = this.onClientTool || null;
      this.onAction = this.onAction || null;
      this.onEffect = this.onEffect || null;
      this._renderQueue = new Set();
      this._frame = 0;
      this._controller = null;
      this._built = false;
    }

    // -- configuration: attributes mirrored as properties

    get endpoint() { return this._endpoint ?? this.getAttribute("endpoint"); }
    set endpoint(value) {
      this._endpoint = value;
      if (this._built) this.start();
    }
    get token() { return this._token ?? this.getAttribute("token"); }
    set token(value) { this._token = value; }
    get user() { return this._user ?? this.getAttribute("user"); }
    set user(value) { this._user = value; }
    get theme() {
      const value = this.getAttribute("theme") || "light";
      if (value === "auto") return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
      return value === "dark" ? "dark" : "light";
    }
    set theme(value) { this.setAttribute("theme", value); }

    get starterPrompts() {
      const raw = this.getAttribute("starter-prompts");
      if (!raw) return [];
      try {
        const parsed = JSON.parse(raw);
        return Array.isArray(parsed) ? parsed.map(String) : [];
      } catch {
        return raw.split("|").map((s) => s.trim()).filter(Boolean);
      }
    }

    get storageKey() {
      return `chatkit-client:thread:${this.endpoint || ""}:${this.user || ""}`;
    }

    connectedCallback() {
      if (!this._built) this.build();
      this.applyTheme();
      if (!this._colorScheme) {
        this._colorScheme = matchMedia("(prefers-color-scheme: dark)");
        this._colorScheme.addEventListener("change", () => this.applyTheme());
      }
      // Properties set right after the element is created (token, getClientSecret) are
      // in place by the time the microtask runs.
      queueMicrotask(() => this.start());
    }

    attributeChangedCallback(name, oldValue, value) {
      if (!this._built || oldValue === value) return;
      if (name === "theme") this.applyTheme();
      else if (name === "endpoint") this.start();
      else if (name === "heading") this.el.heading.textContent = value || "Chat";
      else if (name === "placeholder") this.el.input.placeholder = value || "Message";
      else if (name === "attachments") this.el.attach.hidden = !this.hasAttribute("attachments");
      else if (name === "thread" && value && value !== this.threadId) this.openThread(value);
      else if (name === "greeting" || name === "starter-prompts") this.renderEmpty();
    }

    // -- layout

    build() {
      this._built = true;
      const root = this.attachShadow({ mode: "open" });
      const sheet = h("link", { rel: "stylesheet", href: this.getAttribute("stylesheet") || DEFAULT_STYLESHEET });
      const el = (this.el = {});
      el.threadList = h("ul", { class: "thread-list", "aria-label": "Conversations" });
      el.moreThreads = h("button", { type: "button", class: "btn btn-ghost more-threads", hidden: true, onclick: () => this.loadThreads(true) }, "Load more");
      el.sidebar = h("nav", { class: "sidebar", "aria-label": "Conversations" },
        h("div", { class: "sidebar-head" },
          h("span", { class: "sidebar-title" }, "Conversations"),
          h("button", { type: "button", class: "icon-btn close-sidebar", "aria-label": "Close conversations", onclick: () => this.toggleSidebar(false) }, icon("close"))),
        h("button", { type: "button", class: "btn btn-secondary new-thread", onclick: () => this.newThread() }, icon("plus"), "New chat"),
        el.threadList, el.moreThreads);
      el.heading = h("h2", { class: "heading" }, this.getAttribute("heading") || "Chat");
      el.threadTitle = h("span", { class: "thread-title" });
      el.menu = h("button", { type: "button", class: "icon-btn menu", "aria-label": "Show conversations", "aria-expanded": "false", onclick: () => this.toggleSidebar() }, icon("menu"));
      const bar = h("header", { class: "bar" }, el.menu, h("div", { class: "bar-titles" }, el.heading, el.threadTitle),
        h("button", { type: "button", class: "icon-btn", "aria-label": "New chat", title: "New chat", onclick: () => this.newThread() }, icon("plus")));
      el.log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions text", tabindex: "0" });
      el.empty = h("div", { class: "empty" });
      el.status = h("div", { class: "progress", role: "status", hidden: true });
      el.input = h("textarea", { class: "input", rows: "1", name: "message", "aria-label": "Message", placeholder: this.getAttribute("placeholder") || "Message", enterkeyhint: "send" });
      el.send = h("button", { type: "submit", class: "send", "aria-label": "Send" }, icon("send"));
      el.file = h("input", { type: "file", hidden: true, multiple: true, onchange: () => this.uploadFiles(el.file.files) });
      el.attach = h("button", { type: "button", class: "icon-btn attach", "aria-label": "Attach a file", hidden: !this.hasAttribute("attachments"), onclick: () => el.file.click() }, icon("clip"));
      el.chips = h("div", { class: "chips" });
      el.composer = h("form", { class: "composer", onsubmit: (event) => { event.preventDefault(); this.submitComposer(); } },
        el.chips, h("div", { class: "composer-row" }, el.attach, el.file, el.input, el.send));
      el.input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.submitComposer();
        }
      });
      el.input.addEventListener("input", () => this.fitInput());
      el.scrim = h("div", { class: "scrim", onclick: () => this.toggleSidebar(false) });
      el.main = h("main", { class: "main" }, bar, h("div", { class: "log-wrap" }, el.empty, el.log), el.status, el.composer);
      el.layout = h("div", { class: "layout" }, el.sidebar, el.scrim, el.main);
      el.root = h("div", { class: "root", part: "root" }, el.layout);
      if (this.getAttribute("threads") === "off") el.root.classList.add("no-threads");
      el.root.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && el.root.classList.contains("sidebar-open")) this.toggleSidebar(false);
      });
      root.append(sheet, el.root);
      this.renderEmpty();
      this.setBusy(false);
    }

    applyTheme() {
      if (this._built) this.el.root.dataset.theme = this.theme;
    }

    toggleSidebar(open) {
      const root = this.el.root;
      const next = open === undefined ? !root.classList.contains("sidebar-open") : open;
      root.classList.toggle("sidebar-open", next);
      this.el.menu.setAttribute("aria-expanded", String(next));
      if (next) (this.el.threadList.querySelector("button") || this.el.sidebar.querySelector(".new-thread")).focus();
    }

    fitInput() {
      const input = this.el.input;
      input.style.height = "auto";
      input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
    }

    renderEmpty() {
      const empty = this.el.empty;
      empty.replaceChildren();
      const greeting = this.getAttribute("greeting") || "How can I help?";
      empty.append(h("div", { class: "empty-mark" }, icon("spark")), h("p", { class: "greeting" }, greeting));
      const prompts = this.starterPrompts;
      if (prompts.length) {
        empty.append(h("div", { class: "starters" }, prompts.map((prompt) =>
          h("button", { type: "button", class: "starter", onclick: () => this.sendMessage(prompt) }, prompt))));
      }
      empty.hidden = this.items.length > 0;
    }

    setBusy(busy) {
      this.busy = busy;
      if (!this._built) return;
      this.el.root.classList.toggle("busy", busy);
      this.el.send.disabled = busy;
      this.el.send.setAttribute("aria-label", busy ? "Answering…" : "Send");
      if (!busy) this.setProgress(null);
    }

    setProgress(text) {
      const status = this.el.status;
      status.hidden = !text;
      status.replaceChildren();
      if (text) status.append(h("span", { class: "spinner", "aria-hidden": "true" }), h("span", {}, text));
    }

    emit(name, detail) {
      this.dispatchEvent(new CustomEvent(`chatkit.${name}`, { detail, bubbles: true, composed: true }));
    }

    // -- start-up, threads

    async start() {
      if (this._started || !this.endpoint || !this.isConnected) return;
      this._started = true;
      const initial = this.getAttribute("thread") || this.readStoredThread();
      if (this.getAttribute("threads") !== "off") this.loadThreads(false);
      if (initial) await this.openThread(initial);
    }

    readStoredThread() {
      try {
        return localStorage.getItem(this.storageKey);
      } catch {
        return null;
      }
    }

    storeThread(id) {
      try {
        if (id) localStorage.setItem(this.storageKey, id);
        else localStorage.removeItem(this.storageKey);
      } catch {
        /* storage may be disabled: the thread is then not reopened after a reload */
      }
    }

    async loadThreads(more) {
      try {
        const params = { limit: THREAD_PAGE, order: "desc" };
        if (more && this.threadsAfter) params.after = this.threadsAfter;
        const page = await this.transport.call("threads.list", params);
        const fresh = (page.data || []).filter((t) => !this.threads.some((known) => known.id === t.id));
        this.threads = more ? [...this.threads, ...fresh] : [...this.threads.filter((t) => !(page.data || []).some((p) => p.id === t.id)), ...(page.data || [])];
        this.threadsAfter = page.has_more ? page.after : null;
        this.el.moreThreads.hidden = !page.has_more;
        this.renderThreads();
      } catch (error) {
        if (!more) this.renderThreads(error.message);
      }
    }

    renderThreads(problem) {
      const list = this.el.threadList;
      list.replaceChildren();
      if (problem) {
        list.append(h("li", { class: "thread-empty" }, problem));
        return;
      }
      if (!this.threads.length) list.append(h("li", { class: "thread-empty" }, "No conversations yet"));
      for (const thread of this.threads) {
        const current = thread.id === this.threadId;
        list.append(h("li", {}, h("button", {
          type: "button", class: "thread", "aria-current": current ? "true" : null, dataset: { threadId: thread.id },
          onclick: () => { this.toggleSidebar(false); this.openThread(thread.id); },
        }, h("span", { class: "thread-name" }, thread.title || "New conversation"), h("time", { class: "thread-time" }, relativeTime(thread.created_at)))));
      }
    }

    rememberThread(thread) {
      const index = this.threads.findIndex((t) => t.id === thread.id);
      if (index >= 0) this.threads[index] = { ...this.threads[index], ...thread };
      else this.threads.unshift(thread);
      this.renderThreads();
      if (thread.id === this.threadId) this.el.threadTitle.textContent = thread.title || "";
    }

    setThreadId(id) {
      if (id === this.threadId) return;
      this.threadId = id;
      this.storeThread(id);
      if (id && this.getAttribute("thread") !== id) this.setAttribute("thread", id);
      if (!id) this.removeAttribute("thread");
      const known = this.threads.find((t) => t.id === id);
      this.el.threadTitle.textContent = (known && known.title) || "";
      this.renderThreads();
      this.emit("thread.change", { threadId: id });
    }

    clearItems() {
      this.items = [];
      this.itemNodes.clear();
      this.el.log.replaceChildren();
      this.el.empty.hidden = false;
      this.lastFailure = null;
    }

    /** Start a new conversation: the next message creates the thread. */
    newThread() {
      if (this._controller) this._controller.abort();
      this.clearItems();
      this.setThreadId(null);
      this.setBusy(false);
      this.toggleSidebar(false);
      this.el.input.focus();
    }

    setThread(id) {
      return id ? this.openThread(id) : this.newThread();
    }

    /** Show a thread's history, then follow its run in progress, if any. */
    async openThread(id) {
      if (this._controller) this._controller.abort();
      const controller = (this._controller = new AbortController());
      this.clearItems();
      this.setThreadId(id);
      this.setBusy(true);
      this.setProgress("Loading the conversation…");
      try {
        // Ask for the run first: with 204 the history is final; with a run, its replay
        // repeats every event since it began, so applying it over the history is safe.
        const run = await this.transport.follow(id, controller.signal);
        await this.loadHistory(id);
        if (controller.signal.aborted) return;
        if (run) {
          this.setProgress(null);
          this.emit("response.start", { threadId: id, following: true });
          await this.consume(run, controller);
        }
        this.setBusy(false);
        if (!controller.signal.aborted) await this.answerPendingClientTool();
      } catch (error) {
        if (controller.signal.aborted) return;
        this.setBusy(false);
        if (error.status === 404) {
          this.setThreadId(null);
          this.clearItems();
          this.showError({ message: "That conversation no longer exists." }, null);
        } else {
          this.showError({ message: error.message, allow_retry: error.retryable }, () => this.openThread(id));
        }
      } finally {
        if (this._controller === controller) this._controller = null;
      }
    }

    async loadHistory(id) {
      let after = null;
      for (;;) {
        const params = { thread_id: id, order: "asc", limit: HISTORY_PAGE };
        if (after) params.after = after;
        const page = await this.transport.call("items.list", params);
        for (const item of page.data || []) this.upsertItem(item);
        if (!page.has_more || !page.after) break;
        after = page.after;
      }
      if (this.threadId === id && !this.threads.some((t) => t.id === id)) {
        this.transport.call("threads.get_by_id", { thread_id: id }).then((thread) => this.rememberThread(thread), () => {});
      }
    }

    // -- sending

    submitComposer() {
      const text = this.el.input.value.trim();
      if (this.busy || (!text && !this.pendingAttachments.length)) return;
      this.sendMessage(text);
    }

    /** Send a user message (a new thread when none is open). */
    async sendMessage(text) {
      if (this.busy) return false;
      const attachments = this.pendingAttachments.filter((a) => a.id);
      const input = {
        content: text ? [{ type: "input_text", text }] : [],
        attachments: attachments.map((a) => a.id),
        inference_options: {},
      };
      this.el.input.value = "";
      this.fitInput();
      this.pendingAttachments = [];
      this.renderChips();
      const request = this.threadId
        ? ["threads.add_user_message", { thread_id: this.threadId, input }]
        : ["threads.create", { input }];
      await this.stream(...request);
      return true;
    }

    /** Send a widget action to the server (what a server-handled widget action does). */
    sendCustomAction(action, itemId) {
      const params = { thread_id: this.threadId, action: { type: action.type, payload: action.payload ?? null } };
      if (itemId) params.item_id = itemId;
      return this.stream("threads.custom_action", params);
    }

    /** Run one streaming request and apply its events until it ends. */
    async stream(type, params, options = {}) {
      if (this._controller) this._controller.abort();
      const controller = (this._controller = new AbortController());
      this.lastFailure = null;
      this.setBusy(true);
      this.emit("response.start", { threadId: this.threadId, type });
      let failed = false;
      try {
        const response = await this.transport.request(type, params, controller.signal);
        failed = await this.consume(response, controller);
      } catch (error) {
        if (controller.signal.aborted) return;
        failed = true;
        this.showError({ message: error.message, allow_retry: error.retryable }, () => this.stream(type, params, options));
      } finally {
        if (this._controller === controller) this._controller = null;
        if (options.onEnd) options.onEnd();
      }
      if (controller.signal.aborted) return;
      this.setBusy(false);
      this.emit("response.end", { threadId: this.threadId, failed });
      if (!failed) await this.answerPendingClientTool();
      if (this.threads.length && this.threadId) this.renderThreads();
    }

    /** Apply the events of an SSE response; return whether an error event came. */
    async consume(response, controller) {
      let failed = false;
      for await (const event of sseEvents(response)) {
        if (controller.signal.aborted) break;
        if (event.type === "error") failed = true;
        this.applyEvent(event);
      }
      return failed;
    }

    // -- events

    applyEvent(event) {
      switch (event.type) {
        case "thread.created":
          this.setThreadId(event.thread.id);
          this.rememberThread(event.thread);
          break;
        case "thread.updated":
          this.rememberThread(event.thread);
          break;
        case "thread.item.added":
        case "thread.item.done":
        case "thread.item.replaced":
          this.setProgress(null);
          this.upsertItem(event.item, event.type === "thread.item.added");
          break;
        case "thread.item.updated":
          this.updateItem(event.item_id, event.update);
          break;
        case "thread.item.removed":
          this.removeItem(event.item_id);
          break;
        case "progress_update":
          this.setProgress(event.text);
          break;
        case "notice":
          this.addNotice(event);
          break;
        case "client_effect":
          if (typeof this.onEffect === "function") this.onEffect(event.name, event.data || {});
          this.emit("effect", { name: event.name, data: event.data || {} });
          break;
        case "error":
          this.showError(event, event.allow_retry ? () => this.retry() : null);
          break;
        default:
          break; // stream_options and event types of later protocol versions
      }
    }

    upsertItem(item, pending = false) {
      if (!item || !item.id || item.type === "hidden_context_item" || item.type === "sdk_hidden_context") return;
      const copy = item.id.startsWith("local_") ? { ...item } : clone(item);
      copy._pending = pending;
      const index = this.items.findIndex((known) => known.id === item.id);
      if (index >= 0) this.items[index] = copy;
      else this.items.push(copy);
      this.scheduleRender(copy.id);
    }

    updateItem(id, update) {
      const item = this.items.find((known) => known.id === id);
      if (!item || !update) return;
      const kind = update.type || "";
      if (kind.startsWith("assistant_message.content_part.")) {
        item.content = item.content || [];
        while (item.content.length <= update.content_index) item.content.push({ type: "output_text", text: "", annotations: [] });
        const part = item.content[update.content_index];
        if (kind.endsWith(".text_delta")) part.text = (part.text || "") + (update.delta || "");
        else if (kind.endsWith(".annotation_added")) (part.annotations = part.annotations || []).splice(update.annotation_index, 0, update.annotation);
        else if (update.content) item.content[update.content_index] = { ...update.content, annotations: update.content.annotations?.length ? update.content.annotations : part.annotations || [] };
      } else if (kind === "widget.streaming_text.value_delta") {
        const node = findWidgetNode(item.widget, update.component_id);
        if (node) {
          node.value = (node.value || "") + (update.delta || "");
          node.streaming = !update.done;
        }
      } else if (kind === "widget.root.updated") {
        item.widget = clone(update.widget);
      } else if (kind === "widget.component.updated") {
        item.widget = replaceWidgetNode(item.widget, update.component_id, clone(update.component));
      } else if (kind === "workflow.task.added" || kind === "workflow.task.updated") {
        item.workflow = item.workflow || { type: "custom", tasks: [] };
        item.workflow.tasks = item.workflow.tasks || [];
        if (kind.endsWith(".added")) item.workflow.tasks.push(update.task);
        else item.workflow.tasks[update.task_index] = update.task;
      } else if (kind === "generated_image.updated") {
        item.image = update.image;
        item._progress = update.progress;
      }
      this.scheduleRender(id);
    }

    removeItem(id) {
      this.items = this.items.filter((item) => item.id !== id);
      const node = this.itemNodes.get(id);
      if (node) node.remove();
      this.itemNodes.delete(id);
      this.el.empty.hidden = this.items.length > 0;
    }

    scheduleRender(id) {
      this._renderQueue.add(id);
      if (this._frame) return;
      // Deltas arrive faster than frames: render each changed item once per frame.
      this._frame = requestAnimationFrame(() => this.flushRender());
    }

    flushRender() {
      this._frame = 0;
      const log = this.el.log;
      const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
      for (const id of this._renderQueue) {
        const index = this.items.findIndex((item) => item.id === id);
        if (index < 0) continue;
        const node = this.renderItem(this.items[index]);
        const old = this.itemNodes.get(id);
        if (old) old.replaceWith(node);
        else {
          node.classList.add("enter");
          const next = this.items.slice(index + 1).map((item) => this.itemNodes.get(item.id)).find(Boolean);
          log.insertBefore(node, next && next.parentNode === log ? next : null);
        }
        this.itemNodes.set(id, node);
      }
      this._renderQueue.clear();
      this.el.empty.hidden = this.items.length > 0 || log.children.length > 0;
      if (stick) log.scrollTop = log.scrollHeight;
    }

    // -- items

    renderItem(item) {
      const render = {
        user_message: () => this.renderUser(item),
        assistant_message: () => this.renderAssistant(item),
        client_tool_call: () => this.renderClientTool(item),
        widget: () => this.renderWidgetItem(item),
        workflow: () => this.renderWorkflow(item),
        task: () => h("div", { class: "item task-item" }, renderTask(item.task || {})),
        generated_image: () => this.renderImage(item),
        structured_input: () => this.renderStructuredInput(item),
        end_of_turn: () => h("div", { class: "end-of-turn", hidden: true }),
        _error: () => this.renderError(item),
        _notice: () => this.renderNotice(item),
      }[item.type];
      const node = render ? render() : h("div", { class: "item unknown-item" }, `Unsupported item: ${item.type}`);
      node.dataset.itemId = item.id;
      node.dataset.itemType = item.type;
      if (item._pending) node.classList.add("pending");
      return node;
    }

    renderUser(item) {
      const bubble = h("div", { class: "bubble" });
      if (item.quoted_text) bubble.append(h("blockquote", { class: "quoted" }, item.quoted_text));
      const text = h("div", { class: "user-text" });
      for (const part of item.content || []) {
        if (part.type === "input_text") text.append(part.text);
        else if (part.type === "input_tag") text.append(h("span", { class: "tag" }, `@${part.text}`));
      }
      bubble.append(text);
      const files = (item.attachments || []).map((a) => attachmentView(a));
      return h("div", { class: "item user" }, files.length ? h("div", { class: "attachments" }, files) : null, bubble);
    }

    renderAssistant(item) {
      const body = h("div", { class: "md assistant-text" });
      const sources = [];
      for (const part of item.content || []) {
        body.append(markdown(part.text || ""));
        for (const annotation of part.annotations || []) if (annotation.source) sources.push(annotation.source);
      }
      const node = h("div", { class: "item assistant" }, body);
      if (item._pending) {
        let tail = body;
        while (tail.lastElementChild && /^(P|UL|OL|LI|BLOCKQUOTE)$/.test(tail.lastElementChild.tagName)) tail = tail.lastElementChild;
        tail.append(h("span", { class: "caret", "aria-hidden": "true" }));
      }
      if (sources.length) node.append(this.renderSources(sources));
      if (!item._pending) node.append(this.messageActions(item));
      return node;
    }

    renderSources(sources) {
      const seen = new Set();
      const list = h("ol", { class: "sources" });
      for (const source of sources) {
        const key = source.url || source.filename || source.id || source.title;
        if (seen.has(key)) continue;
        seen.add(key);
        const label = source.title || source.filename || source.url || "source";
        list.append(h("li", {}, source.type === "url" ? link(source.url, label) : label));
      }
      return h("div", { class: "sources-wrap" }, h("span", { class: "sources-title" }, "Sources"), list);
    }

    messageActions(item) {
      const text = (item.content || []).map((part) => part.text || "").join("\n\n");
      const copy = h("button", { type: "button", class: "icon-btn small", "aria-label": "Copy", title: "Copy" }, icon("copy"));
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(text);
          copy.replaceChildren(icon("check"));
        } catch {
          /* clipboard refused: nothing to do */
        }
      });
      const feedback = (kind, name, label) => {
        const button = h("button", { type: "button", class: "icon-btn small", "aria-label": label, title: label, "aria-pressed": item._feedback === kind ? "true" : "false" }, icon(name));
        button.addEventListener("click", () => this.sendFeedback(item, kind));
        return button;
      };
      return h("div", { class: "message-actions" }, copy, feedback("positive", "up", "Good answer"), feedback("negative", "down", "Bad answer"));
    }

    async sendFeedback(item, kind) {
      try {
        await this.transport.call("items.feedback", { thread_id: this.threadId, item_ids: [item.id], kind });
        item._feedback = kind;
        this.scheduleRender(item.id);
      } catch (error) {
        this.showError({ message: error.message }, null);
      }
    }

    renderClientTool(item) {
      const done = item.status === "completed";
      const state = done ? "completed" : item._running ? "running" : "pending";
      const label = { completed: "Done", running: "Running in your browser…", pending: "Waiting for the page" }[state];
      const details = h("details", { class: "tool", open: !done || null },
        h("summary", {}, icon("tool"), h("span", { class: "tool-name" }, item.name), h("span", { class: `tool-state state-${state}` }, label), icon("chevron")),
        h("div", { class: "tool-body" },
          h("div", { class: "tool-label" }, "Arguments"),
          h("pre", { class: "code tool-args" }, h("code", {}, json(item.arguments))),
          done ? h("div", { class: "tool-label" }, "Result") : null,
          done ? h("pre", { class: "code tool-result" }, h("code", {}, json(item.output))) : null));
      return h("div", { class: "item tool-item" }, details);
    }

    renderWidgetItem(item) {
      const itemId = item.id;
      const ctx = {
        theme: this.theme,
        fieldId: (name) => `f${itemId}-${String(name || fieldCounter++).replace(/\W/g, "_")}`,
        fire: (action, source, fallbackLoading) => this.widgetAction(itemId, action, source, fallbackLoading),
      };
      const content = new WidgetRenderer(ctx).render(item.widget);
      const node = h("div", { class: "item widget-item" }, content || h("div", { class: "w-unknown" }, "Empty widget"));
      return node;
    }

    async widgetAction(itemId, config, source, fallbackLoading) {
      if (!config || !config.type) return;
      const form = source && source.closest ? source.closest("form") : null;
      if (form && source.type === "submit" && !form.reportValidity()) return;
      const values = formValues(form);
      const base = config.payload && typeof config.payload === "object" && !Array.isArray(config.payload) ? config.payload : config.payload ?? null;
      const payload = Object.keys(values).length ? { ...(base && typeof base === "object" ? base : {}), ...values } : base;
      const action = { type: config.type, payload };
      if (config.handler === "client") {
        if (typeof this.onAction === "function") await this.onAction(action, itemId);
        this.emit("action", { action, itemId });
        return;
      }
      const loading = config.loadingBehavior && config.loadingBehavior !== "auto" ? config.loadingBehavior : fallbackLoading;
      const container = source && source.closest ? source.closest(".widget-item") : null;
      const mark = (on) => {
        if (loading === "self" && source) {
          source.classList.toggle("loading", on);
          if ("disabled" in source) source.disabled = on;
        }
        if (loading === "container" && container) {
          container.classList.toggle("loading", on);
          container.inert = on;
        }
      };
      mark(true);
      if (config.streaming === false) {
        try {
          const params = { thread_id: this.threadId, item_id: itemId, action };
          const answer = await this.transport.call("threads.sync_custom_action", params);
          if (answer && answer.updated_item) this.upsertItem(answer.updated_item);
        } catch (error) {
          this.showError({ message: error.message }, null);
        } finally {
          mark(false);
        }
        return;
      }
      if (this.busy) {
        mark(false);
        return; // a streaming action waits for the answer in progress, as in ChatKit
      }
      const params = { thread_id: this.threadId, item_id: itemId, action };
      await this.stream("threads.custom_action", params, { onEnd: () => mark(false) });
    }

    renderWorkflow(item) {
      const workflow = item.workflow || { tasks: [] };
      const tasks = workflow.tasks || [];
      let title;
      if (item._pending) title = workflow.type === "reasoning" ? "Thinking…" : "Working…";
      else if (workflow.summary && workflow.summary.title) title = workflow.summary.title;
      else if (workflow.summary && typeof workflow.summary.duration === "number") title = `Thought for ${formatDuration(workflow.summary.duration)}`;
      else title = workflow.type === "reasoning" ? "Thoughts" : "Steps";
      return h("div", { class: "item workflow-item" },
        h("details", { class: "workflow", open: item._pending || workflow.expanded || null },
          h("summary", {}, item._pending ? h("span", { class: "spinner", "aria-hidden": "true" }) : icon("spark"), h("span", {}, title), icon("chevron")),
          h("ol", { class: "tasks" }, tasks.map((task) => h("li", {}, renderTask(task))))));
    }

    renderImage(item) {
      const src = item.image && safeImageUrl(item.image.url);
      if (src) return h("div", { class: "item image-item" }, h("img", { src, alt: "Generated image", class: "generated" }));
      const pct = typeof item._progress === "number" ? ` ${Math.round(item._progress * 100)}%` : "";
      return h("div", { class: "item image-item" }, h("div", { class: "image-placeholder" }, h("span", { class: "spinner" }), `Generating an image…${pct}`));
    }

    renderStructuredInput(item) {
      const pending = item.status === "pending";
      const form = h("form", { class: "structured" });
      for (const question of item.inputs || []) {
        const field = h("fieldset", {}, h("legend", {}, question.question));
        const answer = question.answer;
        if (!pending) {
          field.append(h("p", { class: "answer" }, answer && !answer.skipped ? (answer.values || []).join(", ") : "Skipped"));
        } else if (question.type === "multiple_choice") {
          for (const option of question.options || []) {
            field.append(h("label", { class: "w-checkbox" }, h("input", { type: question.multiple ? "checkbox" : "radio", name: question.id, value: option.value }), h("span", {}, option.value)));
          }
        } else {
          if (question.description) field.append(h("p", { class: "hint" }, question.description));
          field.append(h("textarea", { class: "w-input", name: question.id, rows: "2" }));
        }
        form.append(field);
      }
      if (pending) {
        const submit = (status) => {
          const answers = {};
          for (const question of item.inputs || []) {
            const values = [...form.elements].filter((el) => el.name === question.id && (el.type === "textarea" || el.checked)).map((el) => el.value).filter(Boolean);
            answers[question.id] = { values, skipped: !values.length };
          }
          this.stream("threads.add_structured_input", { thread_id: this.threadId, item_id: item.id, input: { status, answers } });
        };
        form.addEventListener("submit", (event) => { event.preventDefault(); submit("answered"); });
        form.append(h("div", { class: "w-card-actions" },
          h("button", { type: "button", class: "btn btn-secondary", onclick: () => submit("skipped") }, "Skip"),
          h("button", { type: "submit", class: "btn btn-primary" }, "Send answers")));
      }
      return h("div", { class: "item structured-item" }, form);
    }

    // -- client tools

    async answerPendingClientTool() {
      const last = this.items.filter((item) => !item.id.startsWith("local_")).pop();
      if (!last || last.type !== "client_tool_call" || last.status !== "pending" || last._running) return;
      last._running = true;
      this.scheduleRender(last.id);
      let result;
      try {
        if (typeof this.onClientTool !== "function") throw new Error("This page does not handle client tools.");
        result = await this.onClientTool(last.name, clone(last.arguments) || {});
        if (result === undefined) result = null;
      } catch (error) {
        result = { error: String((error && error.message) || error) };
      }
      last._running = false;
      last.status = "completed";
      last.output = result;
      this.scheduleRender(last.id);
      await this.stream("threads.add_client_tool_output", { thread_id: this.threadId, result });
    }

    // -- errors and retry

    /** Show an error in the conversation (a local item: it is not part of the thread). */
    showError(event, retry) {
      const generic = "Something went wrong while answering. Please try again.";
      const message = event.code === "custom" || event.message ? event.message || generic : generic;
      this.emit("error", { code: event.code || "error", message });
      const canRetry = Boolean(retry) && event.allow_retry !== false;
      this.addLocalItem({ type: "_error", message, retry: canRetry ? retry : null });
    }

    addLocalItem(fields) {
      this._local = (this._local || 0) + 1;
      this.upsertItem({ id: `local_${this._local}`, ...fields });
    }

    renderError(item) {
      const node = h("div", { class: "item error-item", role: "alert" },
        icon("alert"), h("span", { class: "error-text" }, item.message));
      if (item.retry) {
        node.append(h("button", {
          type: "button", class: "btn btn-secondary retry",
          onclick: () => { this.removeItem(item.id); item.retry(); },
        }, icon("retry"), "Retry"));
      }
      return node;
    }

    /** Answer again from the last user message (what Retry on an error event does). */
    retry() {
      const index = this.items.map((item) => item.type).lastIndexOf("user_message");
      if (!this.threadId || index < 0) return;
      const userMessage = this.items[index];
      for (const item of this.items.slice(index + 1)) this.removeItem(item.id);
      return this.stream("threads.retry_after_item", { thread_id: this.threadId, item_id: userMessage.id });
    }

    addNotice(event) {
      const level = /^(info|warning|danger)$/.test(event.level) ? event.level : "info";
      this.addLocalItem({ type: "_notice", level, title: event.title, message: event.message });
    }

    renderNotice(item) {
      return h("div", { class: `item notice notice-${item.level}`, role: item.level === "info" ? "status" : "alert" },
        item.title ? h("strong", {}, item.title) : null, h("div", { class: "md" }, markdown(item.message || "")));
    }

    // -- attachments

    async uploadFiles(files) {
      for (const file of files) {
        const entry = { name: file.name, id: null, state: "uploading", preview: file.type.startsWith("image/") ? URL.createObjectURL(file) : null };
        this.pendingAttachments.push(entry);
        this.renderChips();
        try {
          const attachment = await this.transport.call("attachments.create", { name: file.name, size: file.size, mime_type: file.type || "application/octet-stream" });
          const upload = attachment.upload_descriptor;
          if (upload && upload.url) {
            const body = new FormData();
            body.append("file", file);
            const response = await fetch(upload.url, { method: upload.method || "POST", headers: upload.headers || {}, body, credentials: "omit" });
            if (!response.ok) throw await errorFrom(response);
          }
          entry.id = attachment.id;
          entry.state = "ready";
        } catch (error) {
          entry.state = "failed";
          entry.error = error.message;
        }
        this.renderChips();
      }
      this.el.file.value = "";
    }

    renderChips() {
      const chips = this.el.chips;
      chips.replaceChildren();
      for (const entry of this.pendingAttachments) {
        const remove = h("button", { type: "button", class: "icon-btn small", "aria-label": `Remove ${entry.name}` }, icon("close"));
        remove.addEventListener("click", () => {
          this.pendingAttachments = this.pendingAttachments.filter((e) => e !== entry);
          if (entry.id) this.transport.call("attachments.delete", { attachment_id: entry.id }).catch(() => {});
          this.renderChips();
        });
        chips.append(h("span", { class: `chip chip-${entry.state}`, title: entry.error || entry.name },
          entry.preview ? h("img", { src: entry.preview, alt: "" }) : icon("file"),
          h("span", { class: "chip-name" }, entry.state === "failed" ? `${entry.name}: not uploaded` : entry.name), remove));
      }
      chips.hidden = !this.pendingAttachments.length;
    }
  }

  // ------------------------------------------------------------------ small views

  function renderTask(task) {
    const title = task.title || (task.type === "thought" ? "" : task.type === "web_search" ? task.title_query || "Searched the web" : "");
    const node = h("div", { class: `task task-${task.type || "custom"}`, dataset: { status: task.status_indicator || "none" } });
    if (task.status_indicator === "loading") node.append(h("span", { class: "spinner", "aria-hidden": "true" }));
    else if (task.status_indicator === "complete") node.append(icon("check"));
    const body = h("div", { class: "task-body" });
    if (title) body.append(h("div", { class: "task-title" }, title));
    if (task.content) body.append(h("div", { class: "md task-content" }, markdown(task.content)));
    if (task.queries && task.queries.length) body.append(h("div", { class: "task-queries" }, task.queries.map((q) => h("span", { class: "chip" }, q))));
    if (task.sources && task.sources.length) {
      body.append(h("ul", { class: "task-sources" }, task.sources.map((s) => h("li", {}, s.url ? link(s.url, s.title || s.url) : s.title || s.filename || ""))));
    }
    node.append(body);
    return node;
  }

  function attachmentView(attachment) {
    const src = attachment.type === "image" ? safeImageUrl(attachment.preview_url) : null;
    if (src) return h("img", { class: "attachment-image", src, alt: attachment.name || "" });
    return h("span", { class: "chip" }, icon("file"), h("span", { class: "chip-name" }, attachment.name || "file"));
  }

  function formatDuration(seconds) {
    if (seconds < 60) return `${Math.max(1, Math.round(seconds))}s`;
    return `${Math.floor(seconds / 60)}m ${Math.round(seconds % 60)}s`;
  }

  function relativeTime(value) {
    const time = Date.parse(value);
    if (!Number.isFinite(time)) return "";
    const seconds = (Date.now() - time) / 1000;
    if (seconds < 60) return "just now";
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
    return new Date(time).toLocaleDateString();
  }

  customElements.define(TAG, ChatKitClient);
})();
