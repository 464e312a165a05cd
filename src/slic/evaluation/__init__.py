"""Evaluation: the preprint's edits (`edits`), attacks on codecs — K-way laundering and PGD — (`attacks`),
`slic eval` (`suite`, reported by `report` beside the published numbers of `paper`), `slic eval-rd`
(`rd`), and `slic robustness`, the everyday-operations benchmark (`robustness`)."""
