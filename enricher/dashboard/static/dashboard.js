// aadsts-enricher dashboard: optional niceties. Without JavaScript the form's Apply button works.
// Filters live in the URL query (the form is a GET to "/"), so a view can be shared as a link.
"use strict";
(function () {
  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("filters");
    if (!form) return;
    // A changed drop-down applies at once; empty values are left out of the URL.
    form.querySelectorAll("select[data-filter]").forEach(function (select) {
      select.addEventListener("change", function () { submitClean(form); });
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submitClean(form);
    });
    var copy = document.getElementById("copy-link");
    if (copy && navigator.clipboard) {
      copy.hidden = false;
      copy.addEventListener("click", function () {
        navigator.clipboard.writeText(window.location.href).then(function () {
          copy.textContent = "Link copied";
        });
      });
    }
  });

  function submitClean(form) {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (value !== "" && !(key === "range" && value === "7d")) params.append(key, value);
    });
    var query = params.toString();
    window.location.assign("/" + (query ? "?" + query : ""));
  }
})();
