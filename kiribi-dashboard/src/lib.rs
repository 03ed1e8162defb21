//! kiribi's web dashboard (work in progress).
