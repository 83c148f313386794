"""The paper's method as pure functions: what knows no dataset, trainer or command line.

- :mod:`~aulib.method.aus`: the AU catalogue and each AU's centres, derived from the 68 landmarks;
- :mod:`~aulib.method.shape`: the mean face and the flip permutation;
- :mod:`~aulib.method.landmarks`: step 1's record, a face with its 68 iBUG landmarks (the detectors that find
  them are :mod:`aulib.detect`);
- :mod:`~aulib.method.align`: step 2, the released code's 3-point affine onto the 256×256 template;
- :mod:`~aulib.method.crops`: aligned crops at a network's input size;
- :mod:`~aulib.method.heatmaps`: step 4 and 6, Gaussian targets and the readout;
- :mod:`~aulib.method.metrics`: ICC(3,1), PCC and MAE;
- :mod:`~aulib.method.bootstrap`: bootstrap intervals over people or subjects, paired for comparisons.

The networks (step 3) are :mod:`aulib.models`.
"""
