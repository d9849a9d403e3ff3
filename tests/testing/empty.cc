// Keeps ecsimage_testing non-empty.
