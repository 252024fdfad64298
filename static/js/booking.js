/* Public booking pages: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function detectedZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch (e) { return null; }
  }

  // Show times in the visitor's own zone: add it to the <select> and, on a first visit (no zone
  // chosen yet), reload the picker in it. Without JavaScript the gym's zone is used.
  function adoptZone() {
    var zone = detectedZone();
    document.querySelectorAll("form[data-tz-detect]").forEach(function (form) {
      var select = form.querySelector("select[name=tz]");
      if (!zone || !select) return;
      var known = Array.prototype.some.call(select.options, function (o) { return o.value === zone; });
      if (!known) select.add(new Option(zone.replace(/_/g, " ") + " (your zone)", zone), 0);
      if (form.getAttribute("data-tz-detect") !== "auto" || select.value === zone) return;
      form.setAttribute("data-tz-detect", "done");
      select.value = zone;
      var url = form.getAttribute("action") + "?" + new URLSearchParams(new FormData(form)).toString();
      if (window.htmx) {
        quiet = true;  // not the visitor's action: leave their focus alone
        htmx.ajax("GET", url, { target: form.getAttribute("data-tz-target"), swap: "innerHTML" }).then(function () {
          history.replaceState(history.state, "", url);
        });
      } else {
        window.location.replace(url);
      }
    });
  }

  // The zone and type forms change one part of the picker's state. The rest (day, month, slot)
  // may have moved on since their hidden fields were rendered, as htmx swapped other regions and
  // pushed the URL: take it from the URL instead.
  document.addEventListener("htmx:configRequest", function (event) {
    var form = event.detail.elt;
    var keep = form && form.getAttribute && form.getAttribute("data-state-keep");
    if (!keep) return;
    var current = new URLSearchParams(window.location.search);
    keep.split(" ").forEach(function (key) {
      if (current.has(key)) event.detail.parameters[key] = current.get(key);
      else delete event.detail.parameters[key];
    });
  });

  // Plain GET forms (the zone on the manage page) submit on change when scripts run.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) el.form.requestSubmit();
  });

  // After a swap, keep keyboard focus where the person was (month arrows, zone select), or move
  // it to the new content's heading, and mark the chosen day in the calendar.
  var lastFocusId = null;
  var quiet = false;
  document.addEventListener("htmx:beforeRequest", function () {
    var active = document.activeElement;
    lastFocusId = active && active.id ? active.id : null;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (quiet) { quiet = false; adoptZone(); return; }
    var heading = target.querySelector("[data-focus]");
    var keep = lastFocusId && document.getElementById(lastFocusId);
    if (target.id !== "booking-step" && keep && target.contains(keep)) {
      keep.focus();
    } else if (heading) {
      heading.focus();
    }
    var day = target.querySelector("[data-day]");
    if (target.id === "booking-step" && day) {
      document.querySelectorAll(".day[aria-current]").forEach(function (a) { a.removeAttribute("aria-current"); });
      var link = document.getElementById("day-" + day.getAttribute("data-day"));
      if (link) link.setAttribute("aria-current", "true");
    }
    adoptZone();
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", adoptZone);
  } else {
    adoptZone();
  }
})();
