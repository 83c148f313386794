"""Evaluation on held-out subjects: ICC, PCC, MAE and localisation (:mod:`~aulib.evaluation.evaluate`), and the
landmark-noise study (:mod:`~aulib.evaluation.robustness`). Both run models through
:class:`aulib.inference.model.AUModel`, without a trainer.
"""
