// Sign in: the token goes once, as JSON, to /dashboard/login; the answer sets the session cookie.
"use strict";
document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("error");
  error.textContent = "";
  const token = document.getElementById("token").value;
  try {
    const reply = await fetch("/dashboard/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token }),
      credentials: "same-origin",
    });
    if (reply.ok) {
      location.reload();
      return;
    }
    error.textContent = reply.status === 429 ? "Too many attempts; wait a little." : "That token is not right.";
  } catch (failure) {
    error.textContent = "The backend cannot be reached.";
  }
});
