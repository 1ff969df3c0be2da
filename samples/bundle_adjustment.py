"""ADBench's bundle adjustment: reprojection residuals of 3-D points seen by cameras.

A camera is 11 numbers: an angle-axis rotation r (3), its centre C (3), the focal length f, the
principal point x0 (2) and two radial-distortion coefficients kappa. Observation i sees camera
obs[i, 0] and point obs[i, 1] at the feature feats[i], with weight w[i]. `residuals` gives
ADBench's two outputs: reproj_err[i] = w[i] * (proj - feats[i]) and w_err[i] = 1 - w[i]**2.

`objective` is the scalar to differentiate, the usual least-squares cost of bundle adjustment:
0.5 * (||reproj_err||^2 + ||w_err||^2), with respect to cams, X and w. Its gradient is J^T r,
the quantity a Gauss-Newton or gradient method needs from ADBench's Jacobian J.
"""

import numpy as np
from adbench_io import read_ba


def rodrigues_rotate(r, X):
    """X rotated by the angle-axis vector r (first order when r is zero)."""
    theta2 = np.dot(r, r)
    if theta2 != 0:
        theta = np.sqrt(theta2)
        v = r / theta
        cos_theta = np.cos(theta)
        Xc = (X * cos_theta + np.cross(v, X) * np.sin(theta)
              + v * (np.dot(v, X) * (1 - cos_theta)))
    else:
        Xc = X + np.cross(r, X)
    return Xc


def project(cam, X):
    """Where the camera `cam` sees the point X, radial distortion included."""
    Xc = rodrigues_rotate(cam[0:3], X - cam[3:6])
    u = Xc[0:2] / Xc[2]
    s = np.dot(u, u)
    u = u * (1 + cam[9] * s + cam[10] * s * s)
    return u * cam[6] + cam[7:9]


def residuals(cams, X, w, obs, feats):
    p = obs.shape[0]
    reproj_err = np.zeros((p, 2))
    w_err = np.zeros(p)
    for i in range(p):
        proj = project(cams[obs[i, 0]], X[obs[i, 1]])
        reproj_err[i] = w[i] * (proj - feats[i])
        w_err[i] = 1 - w[i] * w[i]
    return reproj_err, w_err


def objective(cams, X, w, obs, feats):
    reproj_err, w_err = residuals(cams, X, w, obs, feats)
    return 0.5 * (np.sum(reproj_err ** 2) + np.sum(w_err ** 2))


def example(path=None):
    """The arguments of `objective` for ADBench's unit-test input (2 cameras, 10 points)."""
    return read_ba() if path is None else read_ba(path)
