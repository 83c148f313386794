"""Running a trained network: :class:`~aulib.inference.model.AUModel` (the one object every part of aulib that
runs a network holds), the device and precision rules (:mod:`~aulib.inference.precision`), and the authors'
checkpoints as standalone model files (:mod:`~aulib.inference.convert`).
"""
