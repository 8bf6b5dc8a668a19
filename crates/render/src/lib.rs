//! mailwarden-render
