/* Staff dashboard: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // base.html lets htmx swap 422 answers (forms with their errors); the dashboard also answers a
  // refused action (cancelling twice, a time just taken) with 409 and the fragment explaining why.
  if (window.htmx && htmx.config.responseHandling) {
    htmx.config.responseHandling.unshift({ code: "409", swap: true });
  }

  // Copy-link buttons: the address sits in a plain readonly input (select it and copy by hand
  // without JavaScript); with it, the button copies in one click.
  function revealCopyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) { button.hidden = false; });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.querySelector(button.getAttribute("data-copy"));
    if (!input) return;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.classList.add("is-copied");
      setTimeout(function () { button.textContent = label; button.classList.remove("is-copied"); }, 1600);
    };
    input.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  // Plain GET forms (trainer pickers) submit on change when scripts run.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) el.form.requestSubmit();
  });

  // The date-change form: times only matter for parts of a day.
  function syncOverrideTimes(root) {
    root.querySelectorAll(".override-add").forEach(function (form) {
      var kind = form.querySelector("select[name=kind]");
      if (!kind) return;
      var whole = kind.value === "day_off";
      form.querySelectorAll("input[name=start_time], input[name=end_time]").forEach(function (input) {
        input.disabled = whole;
        input.closest(".field").classList.toggle("is-disabled", whole);
      });
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches(".override-add select[name=kind]")) syncOverrideTimes(document);
  });

  function enhance(root) { revealCopyButtons(root); syncOverrideTimes(root); }
  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSettle", function (event) { enhance(event.detail.elt || document); });
})();
