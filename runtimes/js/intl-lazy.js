// Stand-ins for `Intl` and the locale-aware built-in methods that compile intl.js on first use.
// A context is made for every few runs; most never format a number for a locale, so the 1,000 lines
// of intl.js are compiled (a few ms) only in a context whose script asks. The host puts intl.js's
// text in `__intlSource` just before the parts; lazy-source.js's loader takes it and freezes what
// intl.js returns in a context whose built-ins are frozen.
"use strict";

(function () {
  var load = globalThis.__lazySource("__intlSource");

  function stand(target, name, pick) {
    var fn = { [name]: function () { return load()[pick].apply(this, arguments); } }[name];
    Object.defineProperty(target, name, { value: fn, writable: true, configurable: true, enumerable: false });
  }
  stand(Number.prototype, "toLocaleString", "number");
  stand(BigInt.prototype, "toLocaleString", "bigint");
  stand(Array.prototype, "toLocaleString", "array");
  stand(String.prototype, "localeCompare", "localeCompare");
  stand(Date.prototype, "toLocaleString", "date");
  stand(Date.prototype, "toLocaleDateString", "dateOnly");
  stand(Date.prototype, "toLocaleTimeString", "timeOnly");

  var intl = {};
  ["NumberFormat", "DateTimeFormat", "Collator", "PluralRules", "RelativeTimeFormat", "ListFormat",
    "getCanonicalLocales", "supportedValuesOf"].forEach(function (name) {
    Object.defineProperty(intl, name, {
      configurable: true,
      enumerable: false,
      get: function () { return load().Intl[name]; },
      // A context whose built-ins stay open (see docs/runtime-javascript.md) lets a script replace it.
      set: function (value) {
        Object.defineProperty(intl, name, { value: value, writable: true, configurable: true, enumerable: false });
      },
    });
  });
  // V8's Date#toString and #toTimeString end with the zone's long name, "GMT+0000 (Coordinated
  // Universal Time)"; the engine's stop at the offset. The name is Intl's, so intl.js is compiled on
  // the first such call only.
  var zoneNames = null;
  function zoneName(date) {
    if (zoneNames === null) zoneNames = new (load().Intl.DateTimeFormat)("en-US", { timeZoneName: "long" });
    var parts = zoneNames.formatToParts(date);
    for (var i = 0; i < parts.length; i++) if (parts[i].type === "timeZoneName") return parts[i].value;
    return "";
  }
  function withZoneName(name) {
    var plain = Date.prototype[name];
    var fn = { [name]: function () {
      var text = plain.call(this);
      if (isNaN(Date.prototype.getTime.call(this))) return text;  // "Invalid Date"
      var zone = zoneName(this);
      return zone ? text + " (" + zone + ")" : text;
    } }[name];
    Object.defineProperty(Date.prototype, name, { value: fn, writable: true, configurable: true, enumerable: false });
  }
  withZoneName("toString");
  withZoneName("toTimeString");

  Object.defineProperty(intl, Symbol.toStringTag, { value: "Intl", configurable: true });
  Object.defineProperty(globalThis, "Intl", { value: intl, writable: true, configurable: true, enumerable: false });
})();
