"""Hardware objects of the emulated beamline that mxcubecore's mockups lack."""
