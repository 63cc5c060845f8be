// `Headers` and `Response` as Node 20's fetch (undici) exposes them, for the `fetch` of Function code
// (prelude.js defines `fetch` itself: it needs the run's bridge). Bodies are text: the host hands over
// a response's body decoded as UTF-8. Loaded after intl.js and before prelude.js.
"use strict";

(function () {
  var defineProperty = Object.defineProperty;
  var TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

  function hidden(target, name, value) {
    defineProperty(target, name, { value: value, writable: true, configurable: true, enumerable: false });
  }

  function headerName(name) {
    var text = String(name);
    if (!TOKEN.test(text)) throw new TypeError("Headers: invalid header name \"" + text + "\"");
    return text.toLowerCase();
  }

  function headerValue(value) {
    var text = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
    if (/[\0\r\n]/.test(text)) throw new TypeError("Headers: invalid header value \"" + text + "\"");
    return text;
  }

  function Headers(init) {
    if (!(this instanceof Headers)) throw new TypeError("Class constructor Headers cannot be invoked without 'new'");
    hidden(this, "__list", []);  // [lowercase name, value] in the order appended
    if (init === undefined || init === null) return;
    var self = this;
    if (init instanceof Headers) {
      init.__list.forEach(function (pair) { self.append(pair[0], pair[1]); });
    } else if (typeof init === "object" && typeof init[Symbol.iterator] === "function") {
      for (var pair of init) {
        var items = Array.from(pair);
        if (items.length !== 2) throw new TypeError("Headers constructor: expected name/value pair to be length 2, found " + items.length + ".");
        self.append(items[0], items[1]);
      }
    } else if (typeof init === "object") {
      Object.keys(init).forEach(function (key) { self.append(key, init[key]); });
    } else {
      throw new TypeError("Headers constructor: init must be an object");
    }
  }
  hidden(Headers.prototype, "append", function append(name, value) {
    this.__list.push([headerName(name), headerValue(value)]);
  });
  hidden(Headers.prototype, "set", function set(name, value) {
    var key = headerName(name);
    var text = headerValue(value);
    var list = this.__list;
    var at = -1;
    for (var i = list.length - 1; i >= 0; i--) {
      if (list[i][0] === key) { if (at >= 0) list.splice(at, 1); at = i; }
    }
    if (at >= 0) list[at][1] = text;
    else list.push([key, text]);
  });
  hidden(Headers.prototype, "delete", function (name) {
    var key = headerName(name);
    hidden(this, "__list", this.__list.filter(function (pair) { return pair[0] !== key; }));
  });
  hidden(Headers.prototype, "has", function has(name) {
    var key = headerName(name);
    return this.__list.some(function (pair) { return pair[0] === key; });
  });
  hidden(Headers.prototype, "get", function get(name) {
    var key = headerName(name);
    var values = this.__list.filter(function (pair) { return pair[0] === key; }).map(function (pair) { return pair[1]; });
    if (!values.length) return null;
    return values.join(key === "set-cookie" ? ", " : ", ");
  });
  hidden(Headers.prototype, "getSetCookie", function getSetCookie() {
    return this.__list.filter(function (pair) { return pair[0] === "set-cookie"; }).map(function (pair) { return pair[1]; });
  });
  function sortedEntries(headers) {
    // As the Fetch standard: names sorted, values of one name combined (set-cookie kept apart).
    var names = [];
    headers.__list.forEach(function (pair) { if (names.indexOf(pair[0]) < 0) names.push(pair[0]); });
    names.sort();
    var out = [];
    names.forEach(function (name) {
      if (name === "set-cookie") headers.getSetCookie().forEach(function (v) { out.push([name, v]); });
      else out.push([name, headers.get(name)]);
    });
    return out;
  }
  hidden(Headers.prototype, "forEach", function forEach(callback, thisArg) {
    var self = this;
    sortedEntries(this).forEach(function (pair) { callback.call(thisArg, pair[1], pair[0], self); });
  });
  hidden(Headers.prototype, "entries", function entries() { return sortedEntries(this)[Symbol.iterator](); });
  hidden(Headers.prototype, "keys", function keys() {
    return sortedEntries(this).map(function (pair) { return pair[0]; })[Symbol.iterator]();
  });
  hidden(Headers.prototype, "values", function values() {
    return sortedEntries(this).map(function (pair) { return pair[1]; })[Symbol.iterator]();
  });
  hidden(Headers.prototype, Symbol.iterator, Headers.prototype.entries);
  defineProperty(Headers.prototype, Symbol.toStringTag, { value: "Headers", configurable: true });

  function utf8Bytes(text) {
    var bytes = [];
    var encoded = unescape(encodeURIComponent(text));
    for (var i = 0; i < encoded.length; i++) bytes.push(encoded.charCodeAt(i));
    return new Uint8Array(bytes);
  }

  function bodyText(body) {
    if (body === undefined || body === null) return null;
    if (typeof body === "string") return body;
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
      var view = new Uint8Array(body instanceof ArrayBuffer ? body : body.buffer);
      var raw = "";
      for (var i = 0; i < view.length; i++) raw += String.fromCharCode(view[i]);
      try { return decodeURIComponent(escape(raw)); } catch (e) { return raw; }
    }
    return String(body);
  }

  function Response(body, init) {
    if (!(this instanceof Response)) throw new TypeError("Class constructor Response cannot be invoked without 'new'");
    var options = init === undefined || init === null ? {} : Object(init);
    var status = options.status === undefined ? 200 : Number(options.status);
    if (!(status >= 200 && status <= 599) || Math.floor(status) !== status) {
      throw new RangeError("init[\"status\"] must be in the range of 200 to 599, inclusive.");
    }
    var text = bodyText(body);
    var headers = new Headers(options.headers);
    if (typeof body === "string" && !headers.has("content-type")) headers.set("content-type", "text/plain;charset=UTF-8");
    hidden(this, "__state", {
      status: status, statusText: options.statusText === undefined ? "" : String(options.statusText),
      headers: headers, body: text, used: false, url: "", redirected: false, type: "default",
    });
  }
  function state(response) {
    var s = response && response.__state;
    if (!s) throw new TypeError("Illegal invocation");
    return s;
  }
  function getter(name, read) {
    defineProperty(Response.prototype, name, {
      configurable: true, enumerable: true, get: function () { return read(state(this)); },
    });
  }
  getter("status", function (s) { return s.status; });
  getter("statusText", function (s) { return s.statusText; });
  getter("ok", function (s) { return s.status >= 200 && s.status <= 299; });
  getter("headers", function (s) { return s.headers; });
  getter("url", function (s) { return s.url; });
  getter("redirected", function (s) { return s.redirected; });
  getter("type", function (s) { return s.type; });
  getter("bodyUsed", function (s) { return s.used; });
  getter("body", function (s) { return s.body === null ? null : { locked: s.used }; });

  function consume(response) {
    var s;
    try { s = state(response); } catch (e) { return Promise.reject(e); }
    if (s.used) return Promise.reject(new TypeError("Body is unusable: Body has already been read"));
    if (s.body !== null) s.used = true;
    return Promise.resolve(s.body === null ? "" : s.body);
  }
  hidden(Response.prototype, "text", function text() { return consume(this); });
  hidden(Response.prototype, "json", function json() { return consume(this).then(function (t) { return JSON.parse(t); }); });
  hidden(Response.prototype, "arrayBuffer", function arrayBuffer() {
    return consume(this).then(function (t) { return utf8Bytes(t).buffer; });
  });
  hidden(Response.prototype, "bytes", function bytes() { return consume(this).then(utf8Bytes); });
  hidden(Response.prototype, "clone", function clone() {
    var s = state(this);
    if (s.used) throw new TypeError("Response.clone: Body has already been consumed.");
    var copy = new Response(s.body, { status: s.status, statusText: s.statusText, headers: s.headers });
    Object.assign(copy.__state, { url: s.url, redirected: s.redirected, type: s.type });
    return copy;
  });
  hidden(Response, "json", function json(data, init) {
    var options = Object.assign({}, init || {});
    var headers = new Headers(options.headers);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    options.headers = headers;
    return new Response(JSON.stringify(data), options);
  });
  hidden(Response, "error", function error() {
    var response = new Response(null, { status: 200 });
    Object.assign(response.__state, { status: 0, type: "error" });
    return response;
  });
  defineProperty(Response.prototype, Symbol.toStringTag, { value: "Response", configurable: true });

  // What prelude.js's fetch builds its answer with: a Response as a network fetch gives it.
  hidden(Response, "__fromHost", function (answer) {
    var response = new Response(null, { headers: answer.headers });
    Object.assign(response.__state, {
      status: answer.status, statusText: answer.statusText, body: answer.body, url: answer.url,
      redirected: answer.redirected, type: "basic",
    });
    return response;
  });

  hidden(Response, "__bodyText", bodyText);  // a request body as the text the host sends

  hidden(globalThis, "Headers", Headers);
  hidden(globalThis, "Response", Response);
})();
