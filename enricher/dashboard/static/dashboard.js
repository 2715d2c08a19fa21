// aadsts-enricher dashboard: optional niceties. Without JavaScript everything works: the filter
// form is a plain GET (Apply or Enter), times read in UTC, details open and close natively.
// With it: times in the browser's zone (UTC stays the tooltip), a finder in long filter lists,
// empty values left out of the URL, and an opt-in refresh every minute that keeps the scroll
// position and the open rows.
"use strict";
(function () {
  var REFRESH_MS = 60000;
  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", function () {
    localTimes();
    var form = document.getElementById("filters");
    if (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        submitClean(form);
      });
      form.querySelectorAll("input[data-narrow]").forEach(narrowing);
    }
    autoRefresh();
  });

  function localTimes() {
    var format;
    try {
      format = new Intl.DateTimeFormat("en-GB", {
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
        hour12: false, timeZoneName: "short"
      });
    } catch (e) {
      return;
    }
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at.getTime())) return;
      var text = el.textContent;
      var rest = text.indexOf(" UTC") >= 0 ? text.slice(text.indexOf(" UTC") + 4) : "";
      var parts = {};
      format.formatToParts(at).forEach(function (p) { parts[p.type] = p.value; });
      el.textContent = parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" +
        parts.minute + " " + (parts.timeZoneName || "") + rest;
      el.setAttribute("data-local", "1");
    });
  }

  function narrowing(input) {
    input.hidden = false;
    var box = input.closest("fieldset");
    // Enter in the finder must not submit the form half-chosen
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.preventDefault();
    });
    input.addEventListener("input", function () {
      var wanted = input.value.trim().toLowerCase();
      box.querySelectorAll("label.choice").forEach(function (label) {
        label.hidden = wanted !== "" && label.textContent.toLowerCase().indexOf(wanted) < 0;
      });
    });
  }

  function submitClean(form) {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (value !== "" && !(key === "range" && value === "7d")) params.append(key, value);
    });
    var query = params.toString();
    window.location.assign("/" + (query ? "?" + query : ""));
  }

  function autoRefresh() {
    var box = document.getElementById("auto-refresh");
    if (!box) return;
    box.closest("label").hidden = false;
    var store = window.sessionStorage;
    var saved = store.getItem("aadsts-enricher:restore");
    if (saved) {
      store.removeItem("aadsts-enricher:restore");
      try {
        var state = JSON.parse(saved);
        (state.open || []).forEach(function (id) {
          var row = document.querySelector('details.incident[data-id="' + CSS.escape(id) + '"]');
          if (row) row.open = true;
        });
        // after layout, and instead of the browser's own restoring (which would put back the
        // position of before the reload and fight this one)
        if ("scrollRestoration" in window.history) window.history.scrollRestoration = "manual";
        var place = function () { window.scrollTo(0, state.y || 0); };
        if (document.readyState === "complete") place(); else window.addEventListener("load", place);
      } catch (e) { /* a stale or foreign value: ignore it */ }
    }
    var timer = null;
    function arm() {
      if (timer) window.clearTimeout(timer);
      timer = box.checked ? window.setTimeout(reload, REFRESH_MS) : null;
    }
    function reload() {
      var open = [];
      document.querySelectorAll("details.incident[open]").forEach(function (d) {
        open.push(d.getAttribute("data-id"));
      });
      store.setItem("aadsts-enricher:restore", JSON.stringify({ y: window.scrollY, open: open }));
      window.location.reload();
    }
    box.checked = window.localStorage.getItem("aadsts-enricher:refresh") === "on";
    box.addEventListener("change", function () {
      window.localStorage.setItem("aadsts-enricher:refresh", box.checked ? "on" : "off");
      arm();
    });
    arm();
  }
})();
