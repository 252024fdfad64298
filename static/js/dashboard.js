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

  // Asking before cancelling or moving a booking (dashboard/confirm.html): without JavaScript a page;
  // with it htmx puts the same question, as a <dialog>, into #dialog-slot and it opens here as a
  // modal — the first control focused, Esc or "Keep it" closing it, and focus handed back to the
  // button that opened it (or, once that is gone with the booking it acted on, to the page's heading).
  var opener = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var slot = event.detail.target;
    if (slot && slot.id === "dialog-slot" && !slot.querySelector("dialog[open]")) opener = event.detail.elt;
  });
  function closeDialog(dialog) { if (dialog.open) dialog.close(); }
  document.addEventListener("close", function (event) {
    var dialog = event.target;
    if (!dialog.matches || !dialog.matches("dialog[data-confirm-dialog]")) return;
    var slot = dialog.parentNode;
    if (slot) slot.removeChild(dialog);
    var back = opener && opener.isConnected ? opener : (opener && opener.id && document.getElementById(opener.id));
    opener = null;
    if (!back) {
      back = document.querySelector("#main h1") || document.getElementById("main");
      if (back && !back.hasAttribute("tabindex")) back.setAttribute("tabindex", "-1");
    }
    if (back) back.focus();
  }, true);  // "close" does not bubble
  document.addEventListener("click", function (event) {
    var keep = event.target.closest && event.target.closest("dialog[data-confirm-dialog] [data-dialog-close]");
    if (!keep) return;
    event.preventDefault();
    closeDialog(keep.closest("dialog"));
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "dialog-slot") {
      var dialog = target.querySelector("dialog[data-confirm-dialog]");
      if (dialog && !dialog.open) dialog.showModal();
      return;
    }
    // The dialog's own answer went elsewhere (the refreshed booking, the day's times): it is done.
    var elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    var asked = elt && elt.closest && elt.closest("dialog[data-confirm-dialog]");
    if (asked) closeDialog(asked);
  });

  // A week wider than the screen (a phone) opens scrolled to today's column, just right of the
  // sticky trainer or time column, rather than at Monday.
  function scrollToToday(root) {
    root.querySelectorAll(".team-week, .tgrid-scroll").forEach(function (box) {
      if (box.scrollWidth <= box.clientWidth) return;
      var today = box.querySelector(".team-week__day.is-today, .tgrid__head.is-today");
      var corner = box.querySelector(".team-week__corner, .tgrid__corner");
      if (today && corner) box.scrollLeft = Math.max(0, today.offsetLeft - corner.offsetWidth);
    });
  }

  function enhance(root) { revealCopyButtons(root); syncOverrideTimes(root); scrollToToday(root); }
  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSettle", function (event) { enhance(event.detail.elt || document); });
})();
